// Package forward carries points out of a Buffer to a Target: another site's
// message stream, a historian. Protocol implementations of Target live in
// subpackages.
package forward

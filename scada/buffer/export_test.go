package buffer

// What the external tests need to know of the disk layout.
const (
	SegHeaderSize   = segHeaderSize
	FrameHeaderSize = frameHeaderSize
	CursorFile      = cursorFile
	IDFile          = idFile
)

// SegName returns the file name of the segment starting at base.
func SegName(base Offset) string { return segName(base) }

package sap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/greenlang/gl001/erp"
)

// Write sends a modifying request (POST, PUT, PATCH, MERGE or DELETE) to
// path under the root of svc, with body as JSON, and returns the answer.
//
// SAP Gateway protects writes with a CSRF token bound to the session: Write
// fetches one with a GET of the service root carrying "X-CSRF-Token: Fetch",
// keeps every cookie the system sets, sends the token with the write, and if
// the system answers 403 with "X-CSRF-Token: Required" (the session or token
// expired) fetches a new token and tries once more. A POST, PATCH or MERGE
// is never retried on 5xx, since it may have been applied; a PUT or DELETE
// is idempotent and is retried like a read (see erp.Request).
func (c *Client) Write(ctx context.Context, svc Service, method, path string, body []byte) (*erp.Response, error) {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, "MERGE", http.MethodDelete:
	default:
		return nil, fmt.Errorf("%w: %s is not a write method", erp.ErrBadRequest, method)
	}
	if svc.Root == "" && svc.Name == "" && svc.Path == "" {
		return nil, fmt.Errorf("%w: Service.Root, Service.Name or Service.Path is required", erp.ErrBadRequest)
	}
	if svc.Root == "" && c.base == nil {
		return nil, fmt.Errorf("%w: Service.Root is required without a BaseURL", erp.ErrBadRequest)
	}
	if err := svc.validate("Service", c.cfg.ConnConfig); err != nil {
		return nil, fmt.Errorf("%w: %v", erp.ErrBadRequest, err)
	}
	svc = svc.withDefaults(Service{}, nil)
	root, err := url.Parse(c.root(svc))
	if err != nil {
		return nil, fmt.Errorf("%w: service root: %v", erp.ErrBadRequest, err)
	}
	if !strings.HasSuffix(root.Path, "/") {
		root.Path += "/"
	}
	target, err := url.Parse(strings.TrimPrefix(path, "/"))
	if err != nil || target.IsAbs() || target.Host != "" {
		return nil, fmt.Errorf("%w: path must be relative to the service root", erp.ErrBadRequest)
	}
	u := root.ResolveReference(target)
	c.fixup(u)
	for attempt := 0; ; attempt++ {
		token, err := c.csrfToken(ctx, root, attempt > 0)
		if err != nil {
			return nil, err
		}
		h := http.Header{
			"Accept":       {"application/json"},
			"Content-Type": {"application/json"},
			"X-CSRF-Token": {token},
		}
		if svc.Version == 4 {
			h.Set("OData-Version", "4.0")
		}
		resp, err := c.conn.Do(ctx, erp.Request{Method: method, URL: u.String(), Header: h, Body: body})
		var se *erp.StatusError
		if attempt == 0 && errors.As(err, &se) && se.StatusCode == http.StatusForbidden &&
			strings.EqualFold(se.Header.Get("X-CSRF-Token"), "Required") {
			continue
		}
		return resp, err
	}
}

// csrfToken returns the cached token for root, fetching one if there is none
// or refresh is set.
func (c *Client) csrfToken(ctx context.Context, root *url.URL, refresh bool) (string, error) {
	key := root.String()
	c.csrfMu.Lock()
	tok, ok := c.csrf[key]
	c.csrfMu.Unlock()
	if ok && !refresh {
		return tok, nil
	}
	u := *root
	c.fixup(&u)
	resp, err := c.conn.Do(ctx, erp.Request{URL: u.String(), Header: http.Header{
		"X-CSRF-Token": {"Fetch"}, "Accept": {"application/json"},
	}})
	if err != nil {
		return "", fmt.Errorf("fetching CSRF token: %w", err)
	}
	tok = resp.Header.Get("X-CSRF-Token")
	if tok == "" || strings.EqualFold(tok, "Required") {
		// The service path, not the URL: a base URL may carry credentials.
		return "", &erp.MalformedError{System: c.conn.System(), Entity: root.Path, Field: "X-CSRF-Token", Offset: -1,
			Err: errors.New("the service returned no CSRF token")}
	}
	c.csrfMu.Lock()
	c.csrf[key] = tok
	c.csrfMu.Unlock()
	return tok, nil
}

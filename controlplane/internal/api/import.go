package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/api/openapiimport"
	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// defaultSourceTimeoutMS is the backend timeout of a source that names none.
const defaultSourceTimeoutMS = 3000

// importRequest is the body of POST /v1/tool-sources.
type importRequest struct {
	Name      string            `json:"name"`
	BaseURL   string            `json:"base_url"`
	Headers   map[string]string `json:"headers"`
	TimeoutMS int               `json:"timeout_ms"`
	// Document is the OpenAPI 3 document, as a JSON object or as a string
	// holding JSON or YAML.
	Document json.RawMessage `json:"document"`
}

// importResult is the response of an import: the source and every tool made.
type importResult struct {
	Source json.RawMessage   `json:"source"`
	Tools  []json.RawMessage `json:"tools"`
}

// importToolSource creates a tool source and one tool per operation of its
// OpenAPI document, all in one transaction: a name clash with an existing
// tool rolls everything back.
func (s *server) importToolSource(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var req importRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	docBytes, err := documentBytes(req.Document)
	if err != nil {
		return err
	}
	doc, err := openapiimport.Load(c.Request().Context(), docBytes)
	if err != nil {
		return validationProblem(err)
	}
	src := model.ToolSource{Name: req.Name, BaseURL: req.BaseURL, Headers: req.Headers, TimeoutMS: req.TimeoutMS}
	if src.BaseURL == "" && len(doc.Servers) > 0 && doc.Servers[0] != nil {
		u := doc.Servers[0].URL
		if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
			src.BaseURL = u
		}
	}
	if src.TimeoutMS == 0 {
		src.TimeoutMS = defaultSourceTimeoutMS
	}
	if err := validationProblem(src.Validate()); err != nil {
		return err
	}
	// Convert once before the transaction so a bad document never opens one;
	// the source id is filled in below. The tools carry the source's timeout
	// (bundles hold tools, not sources) but never its headers (see
	// openapiimport.Defaults).
	tools, err := openapiimport.Tools(doc, openapiimport.Defaults{BaseURL: src.BaseURL, TimeoutMS: src.TimeoutMS})
	if err != nil {
		return validationProblem(err)
	}
	if len(tools) == 0 {
		return fieldProblem(CodeValidationFailed, "document", "the document has no operations")
	}
	srcSpec, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return s.write(c, body, func(tx store.Tx) (reply, error) {
		ctx := c.Request().Context()
		rec, err := tx.CreateResource(ctx, store.KindToolSource, "", src.Name, srcSpec)
		if err != nil {
			return reply{}, nameConflict(err, src.Name)
		}
		res := importResult{Tools: make([]json.RawMessage, 0, len(tools))}
		if res.Source, err = representation(rec); err != nil {
			return reply{}, err
		}
		for i, t := range tools {
			t.SourceID = rec.ID
			spec, err := json.Marshal(t)
			if err != nil {
				return reply{}, err
			}
			trec, err := tx.CreateResource(ctx, store.KindTool, "", t.Name, spec)
			if errors.Is(err, store.ErrConflict) {
				return reply{}, &Error{Code: CodeConflict, Detail: "a tool named " + quote(t.Name) + " already exists; nothing was imported",
					Fields: []model.FieldError{{Field: fieldIndex("tools", i) + ".name", Message: "already exists"}}, cause: err}
			}
			if err != nil {
				return reply{}, err
			}
			out, err := representation(trec)
			if err != nil {
				return reply{}, err
			}
			res.Tools = append(res.Tools, out)
		}
		return reply{status: http.StatusCreated, body: res, location: "/v1/tool-sources/" + rec.ID}, nil
	})
}

// documentBytes returns the document given as an object or as a string.
func documentBytes(raw json.RawMessage) ([]byte, error) {
	trimmed := strings.TrimSpace(string(raw))
	switch {
	case trimmed == "" || trimmed == "null":
		return nil, fieldProblem(CodeValidationFailed, "document", "the OpenAPI document is required")
	case trimmed[0] == '{':
		return raw, nil
	case trimmed[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || strings.TrimSpace(s) == "" {
			return nil, fieldProblem(CodeValidationFailed, "document", "the OpenAPI document is empty")
		}
		return []byte(s), nil
	default:
		return nil, fieldProblem(CodeValidationFailed, "document", "must be an object or a string holding JSON or YAML")
	}
}

func (s *server) listToolSources(c echo.Context) error {
	return listPage(s, c, listResources(store.KindToolSource, ""))
}

func (s *server) getToolSource(c echo.Context) error {
	return s.getResource(c, store.KindToolSource, "")
}

// deleteToolSource deletes a source and every tool imported from it, in one
// transaction.
func (s *server) deleteToolSource(c echo.Context) error {
	id, rev, err := writeTarget(c)
	if err != nil {
		return err
	}
	return s.write(c, nil, func(tx store.Tx) (reply, error) {
		ctx := c.Request().Context()
		if _, err := tx.GetResource(ctx, store.KindToolSource, "", id); err != nil {
			return reply{}, err
		}
		ids, err := toolsOfSource(c, tx, id)
		if err != nil {
			return reply{}, err
		}
		for _, tid := range ids {
			if err := tx.DeleteResource(ctx, store.KindTool, "", tid, 0); err != nil {
				return reply{}, err
			}
		}
		if err := tx.DeleteResource(ctx, store.KindToolSource, "", id, rev); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusNoContent}, nil
	})
}

// toolsOfSource returns the ids of the tools whose source_id is sourceID.
func toolsOfSource(c echo.Context, tx store.Tx, sourceID string) ([]string, error) {
	recs, err := allRecords(c.Request().Context(), tx, store.KindTool, "")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range recs {
		var t struct {
			SourceID string `json:"source_id"`
		}
		if json.Unmarshal(r.Spec, &t) == nil && t.SourceID == sourceID {
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

package report

import (
	"encoding/json"
	"io"
)

// JSON writes the report, indented, stamped with the current Schema.
func JSON(w io.Writer, r *Report) error {
	c := *r
	c.Schema = Schema
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&c)
}

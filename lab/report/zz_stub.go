package report

import "io"

// Temporary stubs until the renderers land.
func Aggregate(r *Row)                      {}
func Terminal(w io.Writer, r *Report) error { return nil }
func JSON(w io.Writer, r *Report) error     { return nil }
func Markdown(w io.Writer, r *Report) error { return nil }
func HTML(w io.Writer, r *Report) error     { return nil }

package report

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to path whole or not at all: it writes a
// temporary file beside path and renames it into place, so a full disk or
// a killed writer leaves the earlier file (or none), never half of one.
// Readers of a results directory (tcplab report, compose's report role)
// can then trust every NN-<name>.json they find.
func WriteFile(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

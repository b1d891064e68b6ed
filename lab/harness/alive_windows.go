package harness

import "os"

// alive reports whether a process with this id runs on this host: on
// Windows os.FindProcess opens the process and fails when there is none.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}

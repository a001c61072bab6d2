package importer_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/importer"
)

// TestPasswordProtected reads files LibreOffice saved with a password
// (testdata/make-encrypted.py): each is refused as unreadable with a message
// that says so, under any file name.
func TestPasswordProtected(t *testing.T) {
	for _, name := range []string{"users_encrypted.xlsx", "users_encrypted.xls", "users_encrypted.ods"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, importer.Config{})
			for _, as := range []string{name, "upload.bin"} {
				_, err := e.run(t, as, string(data), importer.Options{DryRun: true})
				var fe *importer.FileError
				if !errors.As(err, &fe) || !errors.Is(err, importer.ErrUnreadable) || !strings.Contains(err.Error(), "password") {
					t.Errorf("as %s: %v", as, err)
				}
			}
		})
	}
}

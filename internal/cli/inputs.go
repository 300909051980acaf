package cli

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/iamsentry/iamsentry/internal/trail"
)

// recordExts are the name endings of the files a directory walk reads as
// records, each also with ".gz" after it: CloudTrail's S3 delivery files
// (.json.gz), exports and shipper output (.json, .jsonl, .ndjson).
var recordExts = []string{".json", ".jsonl", ".ndjson"}

// recordExtsText lists recordExts for messages.
var recordExtsText = strings.Join(recordExts, ", ") + ", each optionally .gz"

// isRecordFile reports whether a file met in a directory walk holds
// CloudTrail records, judged by its name. Documentation, licences and
// CloudTrail's digest files (hashes of the delivery files, named
// ..._CloudTrail-Digest_...json.gz) do not: read as records they would
// only add invalid ones.
func isRecordFile(name string) bool {
	name = strings.ToLower(name)
	if strings.Contains(name, "_cloudtrail-digest_") || strings.Contains(name, "_cloudtrail-insight_") {
		return false
	}
	name = strings.TrimSuffix(name, ".gz")
	for _, ext := range recordExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// eachInput calls fn on one argument's inputs: standard input for "-", the
// file the argument names whatever its name, or the record files of a
// directory tree in lexical order (see isRecordFile); skip is told of
// every other file of the tree. It goes on past inputs that fail and
// returns their errors joined.
//
// An s3:// URL is read as a trail by s3 (see s3Flags), its delivery files in
// key order: the order a walk of the same tree on disk takes.
func eachInput(ctx context.Context, arg string, stdin io.Reader, s3 *s3Input, fn func(ctx context.Context, name string, r io.Reader) error, skip func(path string)) error {
	if arg == "-" {
		return fn(ctx, "(stdin)", stdin)
	}
	if trail.IsURL(arg) {
		return s3.flags.readS3(ctx, arg, s3.log, s3.cmd, fn)
	}
	var errs []error
	walkErr := filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if path != arg && !isRecordFile(d.Name()) {
			skip(path)
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		err = fn(ctx, path, f)
		f.Close()
		if err != nil {
			errs = append(errs, err)
		}
		return ctx.Err()
	})
	return errors.Join(append(errs, walkErr)...)
}

// s3Input is how a command reads s3:// arguments.
type s3Input struct {
	flags *s3Flags
	log   io.Writer // progress lines
	cmd   string    // the command, for those lines
}

// inputSize is the total size of the files the arguments make eachInput
// read, for the ETA; 0 when unknown (stdin).
func inputSize(args []string) int64 {
	var total int64
	for _, arg := range args {
		if arg == "-" || trail.IsURL(arg) {
			return 0
		}
		filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || path != arg && !isRecordFile(d.Name()) {
				return nil
			}
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
			return nil
		})
	}
	return total
}

package builtin_test

import (
	"encoding"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
)

// The detector reference (docs/detectors.md) is written by hand around
// blocks generated from the code: a summary table and, for every built-in
// detector, its Info and its options (key, default, meaning from the option
// field's doc comment). TestReference fails when a block disagrees with the
// code, is missing, or names a detector that does not exist;
// `go test ./detectors/builtin -run TestReference -update` rewrites the
// blocks in place and leaves the prose around them alone.

var update = flag.Bool("update", false, "rewrite the generated blocks of docs/detectors.md")

const referencePath = "../../docs/detectors.md"

var generatedBlock = regexp.MustCompile(`(?s)<!-- BEGIN GENERATED ([a-z0-9-]+) -->\n.*?<!-- END GENERATED -->\n`)

func TestReference(t *testing.T) {
	doc, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("the detector reference: %v", err)
	}
	want, order := referenceBlocks(t)
	seen := map[string]bool{}
	got := generatedBlock.ReplaceAllStringFunc(string(doc), func(block string) string {
		name := generatedBlock.FindStringSubmatch(block)[1]
		seen[name] = true
		w, ok := want[name]
		if !ok {
			t.Errorf("docs/detectors.md has a generated block %q, but no built-in detector has that id", name)
			return block
		}
		if block != w && !*update {
			t.Errorf("docs/detectors.md block %q disagrees with the code (run go test ./detectors/builtin -run TestReference -update):\n--- docs\n%s--- code\n%s", name, block, w)
		}
		return w
	})
	for _, name := range order {
		w := want[name]
		if seen[name] {
			continue
		}
		if !*update {
			t.Errorf("docs/detectors.md has no generated block for %q", name)
			continue
		}
		got += "\n" + w
	}
	if *update && got != string(doc) {
		if err := os.WriteFile(referencePath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// referenceBlocks renders every generated block, keyed by its name: "table"
// and each detector id, and returns the names in the order of Specs.
func referenceBlocks(t *testing.T) (blocks map[string]string, order []string) {
	comments := optionComments(t)
	blocks = map[string]string{}
	order = []string{"table"}
	var table strings.Builder
	table.WriteString("| id | default severity | ATT&CK | title |\n| --- | --- | --- | --- |\n")
	for _, spec := range builtin.Specs() {
		d, err := spec.New(detectors.DefaultConfig())
		if err != nil {
			t.Fatalf("%s rejects its defaults: %v", spec.ID, err)
		}
		info := d.Info()
		if info.ID != spec.ID {
			t.Fatalf("spec %q builds a detector with id %q", spec.ID, info.ID)
		}
		fmt.Fprintf(&table, "| [`%s`](#%s) | %s | %s | %s |\n", info.ID, info.ID, info.Severity,
			strings.Join(info.Techniques, ", "), info.Title)
		blocks[info.ID] = wrap(info.ID, detectorSection(t, spec, info, comments))
		order = append(order, info.ID)
	}
	blocks["table"] = wrap("table", table.String())
	return blocks, order
}

func wrap(name, body string) string {
	return "<!-- BEGIN GENERATED " + name + " -->\n" + body + "<!-- END GENERATED -->\n"
}

func detectorSection(t *testing.T, spec detectors.Spec, info detectors.Info, comments map[string]map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n**%s.** Default severity %s; ATT&CK %s.\n\n%s\n\n",
		info.ID, info.Title, info.Severity, strings.Join(info.Techniques, ", "), info.Description)
	if spec.Defaults == nil {
		fmt.Fprintf(&b, "Options (`detectors.%s`): none besides `enabled` and `severity`.\n\n", info.ID)
		return b.String()
	}
	opts := reflect.ValueOf(spec.Defaults())
	fields := comments[opts.Type().Name()]
	if fields == nil {
		t.Fatalf("%s: no doc comments found for option type %s", info.ID, opts.Type().Name())
	}
	fmt.Fprintf(&b, "Options (`detectors.%s`, besides `enabled` and `severity`):\n\n| key | default | meaning |\n| --- | --- | --- |\n", info.ID)
	for i := range opts.NumField() {
		f := opts.Type().Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			t.Errorf("%s: option field %s has no yaml key", info.ID, f.Name)
			continue
		}
		meaning := strings.Replace(fields[f.Name], f.Name+" ", "`"+key+"` ", 1)
		if meaning == "" {
			t.Errorf("%s: option field %s (%s) has no doc comment to document it by", info.ID, f.Name, key)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", key, defaultValue(opts.Field(i)), meaning)
	}
	b.WriteString("\n")
	return b.String()
}

// defaultValue renders an option's default as it is written in YAML.
func defaultValue(v reflect.Value) string {
	if d, ok := v.Interface().(time.Duration); ok {
		s := d.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return "`" + s + "`"
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		text, _ := m.MarshalText()
		return "`" + string(text) + "`"
	}
	if v.Kind() == reflect.Slice {
		if v.Len() == 0 {
			return "`[]`"
		}
		items := make([]string, v.Len())
		for i := range items {
			items[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return "`[" + strings.Join(items, ", ") + "]`"
	}
	return fmt.Sprintf("`%v`", v.Interface())
}

// optionComments reads the doc comments of the option structs' fields from
// the package source: struct type name → field name → comment as one line.
func optionComments(t *testing.T) map[string]map[string]string {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok || !strings.HasSuffix(ts.Name.Name, "Options") {
				return false
			}
			fields := map[string]string{}
			for _, fl := range st.Fields.List {
				for _, n := range fl.Names {
					fields[n.Name] = oneLine(fl.Doc.Text())
				}
			}
			out[ts.Name.Name] = fields
			return false
		})
	}
	return out
}

// oneLine joins a doc comment into one table cell.
func oneLine(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	return strings.ReplaceAll(text, "|", `\|`)
}

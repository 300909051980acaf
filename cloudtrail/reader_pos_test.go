package cloudtrail

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
)

// TestLinePosCountsUp checks the positions linePos counts up from the
// last one against numbers formatted anew: across a carry into one more
// digit (9 to 10, 99 to 100, 999 to 1000) and after lines that hold no
// item (blank lines, an object over several lines), where it formats.
func TestLinePosCountsUp(t *testing.T) {
	var in strings.Builder
	var want []int
	line := 1
	for i := range 1100 {
		switch i % 97 {
		case 5:
			in.WriteString("\n\n") // two blank lines
			line += 2
		case 40:
			in.WriteString("{\"eventID\":\n\"x\"}\n") // an item over two lines
			want = append(want, line)
			line += 2
			continue
		}
		in.WriteString(`{"eventID":"e"}` + "\n")
		want = append(want, line)
		line++
	}
	rd := NewReader(bytes.NewReader([]byte(in.String())), Options{})
	for i := 0; ; i++ {
		item, err := rd.Next()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("read %d items, want %d", i, len(want))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if w := "line " + strconv.Itoa(want[i]); item.Pos != w {
			t.Fatalf("item %d: Pos %q, want %q", i, item.Pos, w)
		}
	}
}

func TestCountUp(t *testing.T) {
	for _, c := range []struct {
		in, out string
		ok      bool
	}{{"0", "1", true}, {"8", "9", true}, {"19", "20", true}, {"1099", "1100", true}, {"9", "", false}, {"999", "", false}} {
		d := []byte(c.in)
		if ok := countUp(d); ok != c.ok || ok && string(d) != c.out {
			t.Errorf("countUp(%q) = %q, %v; want %q, %v", c.in, d, ok, c.out, c.ok)
		}
	}
}

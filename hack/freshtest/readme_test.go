package freshtest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/reporoot"
)

func TestStepsSplitsAsAShellReadsLines(t *testing.T) {
	block := `# a comment is prose
echo one
X=$(printf '%s' \
  two)
echo "$X"
#   two
#   …
if true; then
  echo three
fi | cat

# more prose
echo 'a # not a comment'
`
	got, err := Steps(block)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Command: "echo one"},
		{Command: "X=$(printf '%s' \\\n  two)"},
		{Command: `echo "$X"`, Expect: []string{"two", "…"}},
		{Command: "if true; then\n  echo three\nfi | cat"},
		{Command: "echo 'a # not a comment'"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestStepsRejectsBrokenBlocks(t *testing.T) {
	for _, block := range []string{"#   output before a command\necho x\n", "echo $(\n"} {
		if _, err := Steps(block); err == nil {
			t.Errorf("%q: no error", block)
		}
	}
}

func TestBlocksTakesOnlyTheSectionsShBlocks(t *testing.T) {
	readme := "# T\n## A\n```sh\na\n```\n```yaml\nnot: this\n```\n## B\n```sh\nb1\n```\ntext\n```bash\nb2\n```\n## C\n```sh\nc\n```\n"
	got, err := Blocks(readme, "B")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b1\n", "b2\n"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := Blocks(readme, "D"); err == nil {
		t.Error("a missing section: no error")
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		expect []string
		out    string
		want   bool
	}{
		{[]string{"active"}, "active\n", true},
		{[]string{"active"}, "pending\n", false},
		{[]string{"a 1", "b 2"}, "a 1\nb 2\n", true},
		{[]string{"a 1"}, "a 1\nb 2\n", false},
		{[]string{`{"id":…}`}, `{"id":"x","n":1}`, true},
		{[]string{"a.b"}, "axb", false},
	} {
		if got := Matches(c.expect, c.out); got != c.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", c.expect, c.out, got, c.want)
		}
	}
}

// The README itself: both sections parse into whole commands, the quick start
// ends with the command that serves the walk-through (make run) and the
// walk-through states some output to check. make fresh-test runs them.
func TestReadmeParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(reporoot.Dir(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	last := r.QuickStart[len(r.QuickStart)-1].Command
	if !strings.HasPrefix(last, "make run") {
		t.Errorf("the quick start's last command is %q: the walk-through runs against make run, which it starts last", last)
	}
	expects := 0
	for _, s := range r.WalkThrough {
		expects += len(s.Expect)
	}
	if expects == 0 {
		t.Error("the walk-through states no output: nothing would be checked")
	}
	t.Logf("quick start: %d commands; walk-through: %d commands, %d expected output lines", len(r.QuickStart), len(r.WalkThrough), expects)
}

func TestDriverIsBashAndItsOutputParses(t *testing.T) {
	steps := []Step{{Command: "echo a # prose"}, {Command: "X=$(echo b)\necho $X", Expect: []string{"b"}}}
	if d := Driver("make run    # serves", steps, "/src"); !Complete(d) {
		t.Fatalf("the driver does not parse:\n%s", d)
	}
	out := "@@po-time make run ready (built, migrated, serving) 12.5@@\n@@po-ready@@\n" +
		"{\"id\":1}\n@@po-step 1 exit 0@@\nb\n\n@@po-step 2 exit 0@@\n" +
		"@@po-time walk-through 1.25@@\n@@po-time stop after SIGINT 0.5@@\n@@po-stop-exit 130@@\n@@po-stop-left none@@\n@@po-stop-listening none@@\n"
	r := ParseDriverOutput(out)
	if !r.Ready || r.StopExit != 130 || r.Left != "none" || r.Listening != "none" {
		t.Fatalf("%+v", r)
	}
	if r.Steps[1].Output != `{"id":1}` || r.Steps[2].Output != "b\n" || !Matches([]string{"b"}, r.Steps[2].Output) {
		t.Fatalf("steps %v", r.Steps)
	}
	if r.Times["walk-through"] != 1250*time.Millisecond || len(r.Times) != 3 {
		t.Fatalf("times %v", r.Times)
	}
	if r := ParseDriverOutput("@@po-not-ready@@\n@@po-stop-exit 2@@\n"); r.Ready || len(r.Steps) != 0 || r.StopExit != 2 {
		t.Fatalf("%+v", r)
	}
}

package ceiling

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
)

func TestFixedHandlerAndSamplePage(t *testing.T) {
	body := SamplePage(42, 20)
	var page Page
	if err := json.Unmarshal(body, &page); err != nil || len(page.Items) != 20 || page.Items[0].UserId != 42 || page.NextCursor == nil {
		t.Fatalf("sample page: %v %+v", err, page)
	}
	app := New(Config{Body: body})
	resp, err := app.Test(httptest.NewRequest("GET", "/fixed/42", nil))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != string(body) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for path, want := range map[string]int{"/fixed/abc": 400, "/redis/1": 503, "/mysql/1": 503, "/healthz": 200} {
		resp, err := app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil || resp.StatusCode != want {
			t.Errorf("%s: %v %v, want %d", path, resp.StatusCode, err, want)
		}
	}
}

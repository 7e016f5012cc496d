package tasks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	archivist "github.com/rpg-archivist/archivist"
)

// scanJob is a job of the workflow step "scan" that records the steps it
// adds.
func scanJob(input string, added *[]archivist.WorkflowStepSpec) *archivist.Job {
	j := newJob(input, 1, nil)
	j.Task.WorkflowID, j.Task.StepKey, j.Task.Priority = "w1", "scan", archivist.PriorityHigh
	j.SetAddSteps(func(_ context.Context, steps []archivist.WorkflowStepSpec) error {
		*added = append(*added, steps...)
		return nil
	})
	return j
}

// handoutsFolder makes a handouts folder with a subfolder "s12" holding two
// PNGs, a JPEG, a text file and a PNG too large to take.
func handoutsFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sub := filepath.Join(dir, "s12")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"b-map.png":         encodePNG(t, testImage(300, 200, false)),
		"a portrait.PNG":    encodePNG(t, testImage(100, 150, true)),
		"c-letter.jpg":      encodeJPEG(t, testImage(64, 64, false), 80),
		"notes.txt":         []byte("not an image"),
		"d-huge.png":        make([]byte, MaxHandoutBytes+1),
		"e-fake.png":        []byte("not a png at all"),
		".hidden-thumb.png": encodePNG(t, testImage(10, 10, false)),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(sub, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHandoutsScanFolder(t *testing.T) {
	t.Parallel()
	h := NewHandoutsScanHandler(HandoutsConfig{Folder: handoutsFolder(t)})
	var added []archivist.WorkflowStepSpec
	raw, err := h.Handle(context.Background(), scanJob(`{"folder": "s12", "thumbnail": {"sizes": [64]}}`, &added))
	if err != nil {
		t.Fatal(err)
	}
	var res HandoutsScan
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	var names, keys []string
	for _, ho := range res.Handouts {
		names, keys = append(names, ho.Name), append(keys, ho.Step)
	}
	if !slices.Equal(names, []string{"a portrait.PNG", "b-map.png", "c-letter.jpg"}) || !slices.Equal(keys, []string{"scan-1", "scan-2", "scan-3"}) {
		t.Errorf("handouts %v (steps %v)", names, keys)
	}
	if len(res.Skipped) != 2 || res.Skipped[0].Name != "d-huge.png" || res.Skipped[1].Name != "e-fake.png" {
		t.Errorf("skipped %+v", res.Skipped)
	}
	// One thumbnail step per image, each a valid image.thumbnail input.
	if len(added) != 3 {
		t.Fatalf("added %d steps", len(added))
	}
	thumbs := NewThumbnailHandler(ThumbnailConfig{})
	for i, s := range added {
		if s.Key != keys[i] || s.Task.Type != TypeImageThumbnail || len(s.DependsOn) != 0 || s.Task.Priority != archivist.PriorityHigh {
			t.Errorf("step %d: %+v", i, s)
		}
		if err := thumbs.ValidateInput(s.Task.Input); err != nil {
			t.Errorf("step %s input: %v", s.Key, err)
		}
		out, err := thumbs.Handle(context.Background(), newJob(string(s.Task.Input), 1, nil))
		if err != nil {
			t.Fatalf("thumbnail of %s: %v", s.Key, err)
		}
		var th ThumbnailResult
		_ = json.Unmarshal(out, &th)
		if len(th.Thumbnails) != 1 || max(th.Thumbnails[0].Width, th.Thumbnails[0].Height) != 64 {
			t.Errorf("thumbnail of %s: %+v", s.Key, th.Thumbnails)
		}
	}

	// A scan outside a workflow cannot add steps.
	_, err = h.Handle(context.Background(), newJob(`{"folder": "s12"}`, 1, nil))
	if err == nil || !archivist.IsPermanent(err) || !strings.Contains(err.Error(), "workflow") {
		t.Errorf("outside a workflow: %v", err)
	}
}

func TestHandoutsScanInput(t *testing.T) {
	t.Parallel()
	dir := handoutsFolder(t)
	h := NewHandoutsScanHandler(HandoutsConfig{Folder: dir})
	noFolder := NewHandoutsScanHandler(HandoutsConfig{})
	img := base64.StdEncoding.EncodeToString(encodePNG(t, testImage(20, 20, false)))
	for _, ok := range []string{`{"folder": "s12"}`, `{"folder": "."}`, `{"images": [{"name": "m", "image": "` + img + `"}]}`,
		`{"folder": "s12", "thumbnail": {"sizes": [128, 256], "format": "jpeg", "quality": 70}}`} {
		if err := h.ValidateInput(json.RawMessage(ok)); err != nil {
			t.Errorf("ValidateInput(%s): %v", ok, err)
		}
	}
	for _, c := range []struct {
		h        *HandoutsScanHandler
		in, want string
	}{
		{h, `{}`, "either folder"},
		{h, `{"folder": "s12", "images": []}`, "either folder"},
		{h, `{"folder": "../etc"}`, "inside the handouts folder"},
		{h, `{"folder": "/etc"}`, "inside the handouts folder"},
		{h, `{"images": []}`, "must not be empty"},
		{h, `{"images": [{"name": "x"}]}`, "needs a name and an image"},
		{h, `{"folder": "s12", "thumbnail": {"sizes": [0]}}`, "thumbnail: sizes"},
		{h, `{"folder": "s12", "thumbnail": {"image": "x"}}`, "thumbnail: unknown field"},
		{h, `{"folder": "s12", "thumbnail": {"output": "folder"}}`, ThumbnailDirEnv},
		{noFolder, `{"folder": "s12"}`, HandoutsDirEnv},
	} {
		err := c.h.ValidateInput(json.RawMessage(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidateInput(%s) = %v, want %q", c.in, err, c.want)
		}
	}
	// A folder that does not exist fails the step for good.
	var added []archivist.WorkflowStepSpec
	_, err := h.Handle(context.Background(), scanJob(`{"folder": "s13"}`, &added))
	if err == nil || !archivist.IsPermanent(err) || !strings.Contains(err.Error(), "s13") {
		t.Errorf("missing folder: %v", err)
	}
}

func TestHandoutsIndex(t *testing.T) {
	t.Parallel()
	img := base64.StdEncoding.EncodeToString(encodePNG(t, testImage(120, 60, false)))
	h := NewHandoutsScanHandler(HandoutsConfig{})
	var added []archivist.WorkflowStepSpec
	in := `{"images": [{"name": "Map <1>", "image": "` + img + `"}, {"name": "Letter", "image": "` + img + `"}], "thumbnail": {"sizes": [32]}}`
	scanRaw, err := h.Handle(context.Background(), scanJob(in, &added))
	if err != nil {
		t.Fatal(err)
	}
	// The index step sees the scan and, since the scan added them, the
	// thumbnail steps; the second's result is missing here.
	parents := map[string]json.RawMessage{"scan": scanRaw}
	out, err := NewThumbnailHandler(ThumbnailConfig{}).Handle(context.Background(), newJob(string(added[0].Task.Input), 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	parents[added[0].Key] = out
	raw, err := HandoutsIndexHandler{}.Handle(context.Background(), stepJob(`{"title": "Session 12"}`, parents))
	if err != nil {
		t.Fatal(err)
	}
	var ix HandoutsIndex
	if err := json.Unmarshal(raw, &ix); err != nil {
		t.Fatal(err)
	}
	if ix.Title != "Session 12" || len(ix.Handouts) != 1 || ix.Handouts[0].Name != "Map <1>" || ix.Handouts[0].Width != 120 ||
		ix.Handouts[0].Thumbnail.Width != 32 || !slices.Equal(ix.Missing, []string{"Letter"}) {
		t.Errorf("index %+v", ix)
	}
	for _, want := range []string{"<title>Session 12</title>", "Map &lt;1&gt;", `src="data:image/png;base64,`, "No thumbnail of Letter"} {
		if !strings.Contains(ix.HTML, want) {
			t.Errorf("page lacks %q:\n%s", want, ix.HTML)
		}
	}
	// Without a scan among its parents it says what it needs.
	_, err = HandoutsIndexHandler{}.Handle(context.Background(), stepJob(`{}`, map[string]json.RawMessage{"x": json.RawMessage(`{}`)}))
	if err == nil || !archivist.IsPermanent(err) || !strings.Contains(err.Error(), "handouts.scan") {
		t.Errorf("no scan: %v", err)
	}
}

func TestThumbnailName(t *testing.T) {
	t.Parallel()
	if got := thumbnailName("a portrait (1).png", 7); got != "007-a_portrait__1_" {
		t.Errorf("thumbnailName = %q", got)
	}
	if err := checkThumbnailName(thumbnailName(strings.Repeat("é", 80)+".png", 1)); err != nil {
		t.Error(err)
	}
	if got := stepKeyFor(strings.Repeat("k", 64), 12); len(got) != 64 || !strings.HasSuffix(got, "-12") {
		t.Errorf("stepKeyFor = %q", got)
	}
	if err := archivist.ValidStepKey(stepKeyFor(strings.Repeat("k", 64), 500)); err != nil {
		t.Error(err)
	}
}

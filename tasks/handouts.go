package tasks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"image"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	archivist "github.com/rpg-archivist/archivist"
)

// HandoutsDirEnv names the environment variable that Register reads for
// the folder "handouts.scan" may read images from (HandoutsConfig.Folder).
const HandoutsDirEnv = "ARCHIVIST_HANDOUTS_DIR"

// Limits of "handouts.scan".
const (
	// MaxHandouts is the most images one scan turns into steps: a workflow
	// has at most archivist.MaxWorkflowSteps steps in all.
	MaxHandouts = 500
	// MaxHandoutBytes is the largest image file a scan takes: its base64
	// form must fit the task input limit of the thumbnail step.
	MaxHandoutBytes = (archivist.MaxInputBytes - 4<<10) / 4 * 3
	// MaxHandoutsTotalBytes bounds the images of one scan together: their
	// steps are stored in one step of the store. Images past it are
	// skipped, with the reason.
	MaxHandoutsTotalBytes = 64 << 20
)

// HandoutsConfig configures "handouts.scan".
type HandoutsConfig struct {
	// Folder is the folder whose images (or those of a folder below it) a
	// scan of a "folder" reads. Empty: such scans are refused, and only
	// images given inline are taken.
	Folder string
	// Thumbnails is the "image.thumbnail" handler the added steps will run
	// with, to check the thumbnail options at submit time; nil means one
	// with no folder.
	Thumbnails *ThumbnailHandler
}

// HandoutsScanHandler runs "handouts.scan", a workflow step that fans out:
// it lists the PNG and JPEG images of a folder (or takes a list of images
// given inline), adds one "image.thumbnail" step per image to its workflow
// (Job.AddSteps), and returns the list. The steps that depend on the scan
// wait for every thumbnail, and see their results: "handouts.index" makes
// an index page of them. Make it with NewHandoutsScanHandler.
type HandoutsScanHandler struct {
	folder string
	thumbs *ThumbnailHandler
}

// NewHandoutsScanHandler returns a handler configured by cfg. A relative
// folder is made absolute.
func NewHandoutsScanHandler(cfg HandoutsConfig) *HandoutsScanHandler {
	h := &HandoutsScanHandler{folder: cfg.Folder, thumbs: cfg.Thumbnails}
	if h.folder != "" {
		if abs, err := filepath.Abs(h.folder); err == nil {
			h.folder = abs
		}
	}
	if h.thumbs == nil {
		h.thumbs = NewThumbnailHandler(ThumbnailConfig{})
	}
	return h
}

// HandoutsScan is the result of "handouts.scan".
type HandoutsScan struct {
	// Handouts are the images that got a thumbnail step, by name.
	Handouts []Handout `json:"handouts"`
	// Skipped are the images left out, and why.
	Skipped []SkippedHandout `json:"skipped,omitempty"`
}

// Handout is one image of a scan and the step that makes its thumbnail.
type Handout struct {
	// Name is the file name (or the name given inline).
	Name  string `json:"name"`
	Step  string `json:"step"`
	Bytes int    `json:"bytes"`
}

// SkippedHandout is an image a scan left out.
type SkippedHandout struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

type scanInput struct {
	folder string // "" when images are inline
	images []inlineImage
	thumb  map[string]json.RawMessage // options for every thumbnail
}

type inlineImage struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

const scanExample = `{"folder": "session-12", "thumbnail": {"sizes": [256]}}`

// thumbnailOptions are the "image.thumbnail" fields a scan passes on.
var thumbnailOptions = []string{"sizes", "format", "quality", "output", "upscale"}

// probeImage is a 1×1 PNG, to check thumbnail options without an image.
var probeImage = func() string {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}()

func (h *HandoutsScanHandler) parseInput(input json.RawMessage) (scanInput, error) {
	var in scanInput
	f, err := decodeFields(input, scanExample, "folder", "images", "thumbnail")
	if err != nil {
		return in, err
	}
	folder, hasFolder, err := f.string("folder")
	if err != nil {
		return in, err
	}
	switch {
	case hasFolder == f.has("images"):
		return in, fmt.Errorf("give either folder (a folder of images) or images (a list of {\"name\", \"image\"}), such as %s", scanExample)
	case hasFolder:
		if h.folder == "" {
			return in, fmt.Errorf("folder needs a handouts folder, and none is configured: set %s on the nodes, or give the images inline", HandoutsDirEnv)
		}
		clean := path.Clean(strings.ReplaceAll(folder, `\`, "/"))
		if folder == "" || !fs.ValidPath(clean) {
			return in, fmt.Errorf("folder %q must be a relative path inside the handouts folder, such as \"session-12\" or \".\"", archivist.Clip(folder))
		}
		in.folder = clean
	default:
		if err := json.Unmarshal(f["images"], &in.images); err != nil {
			return in, fmt.Errorf("images must be a list of {\"name\": \"map.png\", \"image\": \"<base64>\"}: %v", err)
		}
		if len(in.images) == 0 {
			return in, errors.New("images must not be empty")
		}
		if len(in.images) > MaxHandouts {
			return in, fmt.Errorf("images has %d images; the limit is %d", len(in.images), MaxHandouts)
		}
		for i, im := range in.images {
			if strings.TrimSpace(im.Name) == "" || im.Image == "" {
				return in, fmt.Errorf("images[%d] needs a name and an image", i)
			}
		}
	}
	in.thumb = map[string]json.RawMessage{}
	if f.has("thumbnail") {
		opts, err := decodeFields(f["thumbnail"], `{"sizes": [256], "format": "png"}`, thumbnailOptions...)
		if err != nil {
			return in, fmt.Errorf("thumbnail: %v", err)
		}
		in.thumb = opts
	}
	// The options must make a valid thumbnail input: try them on a tiny
	// image.
	probe := thumbnailInputFor(in.thumb, probeImage, "probe")
	if err := h.thumbs.ValidateInput(probe); err != nil {
		return in, fmt.Errorf("thumbnail: %v", err)
	}
	return in, nil
}

// thumbnailInputFor is the input of the thumbnail step of one image.
func thumbnailInputFor(opts map[string]json.RawMessage, data, name string) json.RawMessage {
	m := make(map[string]any, len(opts)+2)
	for k, v := range opts {
		m[k] = v
	}
	m["image"] = data
	if string(opts["output"]) == `"folder"` {
		m["name"] = name
	}
	b, _ := json.Marshal(m)
	return b
}

// ValidateInput checks that input has either "folder" (a relative path in
// the handouts folder, which must be configured) or "images" (1 to
// MaxHandouts {"name", "image"}), and optional "thumbnail" options that
// "image.thumbnail" accepts (sizes, format, quality, output, upscale).
func (h *HandoutsScanHandler) ValidateInput(input json.RawMessage) error {
	_, err := h.parseInput(input)
	return err
}

// Handle lists the images, adds their thumbnail steps and returns a
// HandoutsScan.
func (h *HandoutsScanHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	in, err := h.parseInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	if job.Task.WorkflowID == "" {
		return nil, archivist.Permanent(errors.New("handouts.scan is a workflow step: submit it in a workflow, before the steps that use the thumbnails"))
	}
	job.ReportProgress(0, "listing images")
	images, skipped, err := h.collect(ctx, in)
	if err != nil {
		return nil, err
	}
	res := HandoutsScan{Handouts: []Handout{}, Skipped: skipped}
	steps := make([]archivist.WorkflowStepSpec, 0, len(images))
	prefix := job.Task.StepKey
	for i, im := range images {
		key := stepKeyFor(prefix, i+1)
		name := thumbnailName(im.name, i+1)
		steps = append(steps, archivist.WorkflowStepSpec{
			Key: key,
			Task: archivist.TaskSpec{
				Type:     TypeImageThumbnail,
				Input:    thumbnailInputFor(in.thumb, base64.StdEncoding.EncodeToString(im.data), name),
				Priority: job.Task.Priority,
			},
		})
		res.Handouts = append(res.Handouts, Handout{Name: im.name, Step: key, Bytes: len(im.data)})
	}
	if len(steps) > 0 {
		job.ReportProgress(0.5, fmt.Sprintf("adding %d thumbnail steps", len(steps)))
		if err := job.AddSteps(ctx, steps...); err != nil {
			return nil, err
		}
	}
	job.ReportProgress(1, fmt.Sprintf("%d images", len(steps)))
	return marshalResult(res)
}

type scannedImage struct {
	name string
	data []byte
}

// collect reads the images of a scan: a folder's PNG and JPEG files by
// name, or the inline ones. Images too large, or not PNG or JPEG, are
// skipped with the reason.
func (h *HandoutsScanHandler) collect(ctx context.Context, in scanInput) ([]scannedImage, []SkippedHandout, error) {
	var images []scannedImage
	var skipped []SkippedHandout
	total := 0
	take := func(name string, data []byte) {
		if len(data) > MaxHandoutBytes {
			skipped = append(skipped, SkippedHandout{Name: name, Reason: fmt.Sprintf("%d bytes; the limit is %d", len(data), MaxHandoutBytes)})
			return
		}
		if total+len(data) > MaxHandoutsTotalBytes {
			skipped = append(skipped, SkippedHandout{Name: name, Reason: fmt.Sprintf("the images of one scan may take %d bytes together: scan the rest apart", MaxHandoutsTotalBytes)})
			return
		}
		if _, format, err := image.DecodeConfig(bytes.NewReader(data)); err != nil || (format != formatPNG && format != formatJPEG) {
			skipped = append(skipped, SkippedHandout{Name: name, Reason: "not a PNG or JPEG image"})
			return
		}
		total += len(data)
		images = append(images, scannedImage{name: name, data: data})
	}
	if in.folder == "" {
		for i, im := range in.images {
			data, err := decodeBase64Image(im.Image)
			if err != nil {
				return nil, nil, archivist.Permanent(fmt.Errorf("images[%d] (%s): %v", i, archivist.Clip(im.Name), err))
			}
			take(im.Name, data)
		}
		return images, skipped, nil
	}
	root, err := os.OpenRoot(h.folder)
	if err != nil {
		return nil, nil, fmt.Errorf("open the handouts folder: %w", err)
	}
	defer root.Close()
	dir := root.FS()
	entries, err := fs.ReadDir(dir, in.folder)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, archivist.Permanent(fmt.Errorf("folder %q is not in the handouts folder", in.folder))
		}
		return nil, nil, fmt.Errorf("read folder %q: %w", in.folder, err)
	}
	var names []string
	for _, e := range entries {
		ext := strings.ToLower(path.Ext(e.Name()))
		if e.Type().IsRegular() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	if len(names) > MaxHandouts {
		return nil, nil, archivist.Permanent(fmt.Errorf("folder %q has %d images; the limit is %d: split it", in.folder, len(names), MaxHandouts))
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		data, err := readLimited(dir, path.Join(in.folder, name), MaxHandoutBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		take(name, data)
	}
	return images, skipped, nil
}

// readLimited reads a file, but no more than limit+1 bytes of it (enough
// to tell it is too large).
func readLimited(dir fs.FS, name string, limit int) ([]byte, error) {
	f, err := dir.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)+1))
}

// stepKeyFor is the key of the n-th thumbnail step a scan step adds: the
// scan's key (cut to fit) and the number, so that two scans of a workflow
// do not collide and a retried scan adds the same keys.
func stepKeyFor(scanKey string, n int) string {
	suffix := fmt.Sprintf("-%d", n)
	if scanKey == "" {
		scanKey = "handout"
	}
	if len(scanKey)+len(suffix) > 64 {
		scanKey = scanKey[:64-len(suffix)]
	}
	return scanKey + suffix
}

// thumbnailName makes a file name a thumbnail "name": its stem, with every
// other character than letters, digits, '.', '_' and '-' made '_', and a
// number in front so that names stay apart.
func thumbnailName(file string, n int) string {
	stem := strings.TrimSuffix(file, path.Ext(file))
	stem = strings.Map(func(r rune) rune {
		if isNameRune(r) {
			return r
		}
		return '_'
	}, stem)
	name := fmt.Sprintf("%03d-%s", n, stem)
	if len(name) > MaxThumbnailNameLen {
		name = name[:MaxThumbnailNameLen]
	}
	return name
}

// HandoutsIndexHandler runs "handouts.index": it depends on a
// "handouts.scan" step and makes an index page of the handouts from the
// results of their thumbnail steps (Job.ParentResults, which hold the
// steps the scan added).
type HandoutsIndexHandler struct{}

// HandoutsIndex is the result of "handouts.index".
type HandoutsIndex struct {
	Title    string         `json:"title"`
	Handouts []IndexHandout `json:"handouts"`
	// Missing are handouts whose thumbnail step left no result.
	Missing []string `json:"missing,omitempty"`
	// HTML is a page of the thumbnails with their names: an <img> of
	// each, its data inline for base64 thumbnails, its file for folder
	// ones.
	HTML string `json:"html"`
}

// IndexHandout is one handout of an index page.
type IndexHandout struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// Thumbnail is the first (or only) thumbnail made of it.
	Thumbnail Thumbnail `json:"thumbnail"`
}

const handoutsIndexExample = `{"title": "Session 12 handouts"}`

func parseHandoutsIndexInput(input json.RawMessage) (string, error) {
	if t := bytes.TrimSpace(input); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return "Handouts", nil
	}
	f, err := decodeFields(input, handoutsIndexExample, "title")
	if err != nil {
		return "", err
	}
	title, ok, err := f.string("title")
	if err != nil {
		return "", err
	}
	if !ok || strings.TrimSpace(title) == "" {
		return "Handouts", nil
	}
	if len(title) > MaxCampaignNameBytes {
		return "", fmt.Errorf("title is %d bytes; the limit is %d", len(title), MaxCampaignNameBytes)
	}
	return strings.TrimSpace(title), nil
}

// ValidateInput checks that input is empty, null or {"title": T}.
func (HandoutsIndexHandler) ValidateInput(input json.RawMessage) error {
	_, err := parseHandoutsIndexInput(input)
	return err
}

// Handle builds the index page.
func (HandoutsIndexHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	title, err := parseHandoutsIndexInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	parents, err := job.ParentResults(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the parents' results: %w", err)
	}
	var scans []string
	for key, raw := range parents {
		if bytes.Contains(raw, []byte(`"handouts"`)) {
			scans = append(scans, key)
		}
	}
	if len(scans) == 0 {
		return nil, archivist.Permanent(errors.New("handouts.index found no handouts.scan result: make it depend on a handouts.scan step"))
	}
	slices.Sort(scans)
	res := HandoutsIndex{Title: title, Handouts: []IndexHandout{}}
	for _, key := range scans {
		var scan HandoutsScan
		if err := json.Unmarshal(parents[key], &scan); err != nil {
			return nil, archivist.Permanent(fmt.Errorf("the result of %s is not a handouts.scan result: %v", key, err))
		}
		for _, h := range scan.Handouts {
			var th ThumbnailResult
			raw, ok := parents[h.Step]
			if !ok || json.Unmarshal(raw, &th) != nil || len(th.Thumbnails) == 0 {
				res.Missing = append(res.Missing, h.Name)
				continue
			}
			res.Handouts = append(res.Handouts, IndexHandout{Name: h.Name, Width: th.Source.Width, Height: th.Source.Height, Thumbnail: th.Thumbnails[0]})
		}
	}
	res.HTML = handoutsPage(res)
	return marshalResult(res)
}

// handoutsPage renders the index page.
func handoutsPage(ix HandoutsIndex) string {
	var b strings.Builder
	title := html.EscapeString(ix.Title)
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n", title)
	b.WriteString("<style>body{font-family:sans-serif}figure{display:inline-block;margin:8px;text-align:center}" +
		"img{max-width:256px;max-height:256px}</style></head>\n<body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n", title)
	for _, h := range ix.Handouts {
		src := h.Thumbnail.Path
		if h.Thumbnail.Data != "" {
			src = "data:image/" + h.Thumbnail.Format + ";base64," + h.Thumbnail.Data
		}
		fmt.Fprintf(&b, "<figure><img src=\"%s\" width=\"%d\" height=\"%d\" alt=\"%s\"><figcaption>%s (%d×%d)</figcaption></figure>\n",
			html.EscapeString(src), h.Thumbnail.Width, h.Thumbnail.Height, html.EscapeString(h.Name), html.EscapeString(h.Name), h.Width, h.Height)
	}
	for _, m := range ix.Missing {
		fmt.Fprintf(&b, "<p>No thumbnail of %s.</p>\n", html.EscapeString(m))
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

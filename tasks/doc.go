// Package tasks holds the built-in task types, which every node registers
// with Register. Each type checks its input when the task is submitted, so a
// malformed input is refused with a message rather than queued; an input
// field that a type does not know is refused too, to catch typos. Optional
// fields may be left out or set to null.
//
// # echo
//
// Returns its input unchanged. Any JSON is accepted.
//
//	input:  any JSON value
//	result: the input
//
// # sleep
//
// Sleeps, reporting progress every tenth of the time but at most every
// 250ms (so sleeps under 500ms report none). Cancellation and timeouts end
// it at once.
//
//	input:  {"ms": 1500}    // required integer, 0 to 86400000 (one day)
//	result: {"sleptMs": 1500}
//
// # fail
//
// Fails its first "times" attempts, then succeeds; for exercising retries
// and failure handling. Attempts are numbered from 1 (Task.Attempt), so
// {"times": 2} fails attempts 1 and 2 with errors such as
// "fail: attempt 1 of 2 planned failures" and succeeds on attempt 3, provided
// the task allows at least 2 retries.
//
//	input: {
//	  "times": 2,            // required integer, 0 to 1000000
//	  "message": "boom",     // optional: the error text instead of the default
//	  "permanent": true,     // optional: the failure is permanent, so not retried
//	  "panic": true          // optional: panic instead of returning an error
//	}                        //   (for testing panic recovery; overrides permanent)
//	result: {"attempts": 3}  // the attempt that succeeded
//
// # dice.simulate
//
// Rolls a dice expression many times and reports the distribution of the
// totals. Progress is reported during long runs.
//
//	input: {
//	  "expr": "4d6kh3+2",  // required, see below
//	  "trials": 10000,     // optional, 1 to 1000000, default 1000
//	  "seed": 42           // optional integer: the same seed gives the same result
//	}
//	result: {
//	  "expr": "4d6kh3+2",  // the expression in normal form
//	  "trials": 10000,
//	  "seed": 42,          // only when given
//	  "min": 5, "max": 20, // the smallest and largest totals rolled
//	  "mean": 14.24,
//	  "stddev": 2.85,      // population standard deviation of the totals
//	  "histogram": [       // the totals rolled, in increasing order
//	    {"value": 5, "count": 8, "probability": 0.0008},
//	    ...
//	  ]
//	}
//
// A dice expression is one or more terms joined by "+" or "-", and the first
// term may carry a sign. A term is an integer constant (at most 1000000) or a
// dice group "NdM": N dice (1 to 1000, default 1) of M sides (1 to 1000000),
// optionally followed by "khK" to keep only the K highest dice or "klK" to
// keep the K lowest (1 <= K <= N). Letters may be upper or lower case and
// whitespace may separate the parts. An expression holds at most 100 terms
// and 1000 dice in all. Examples: "d20", "2d6+3", "4d6kh3+2", "1d20+1d4-1",
// "2d20kl1". In normal form every count is written out and spaces are
// dropped: "d20 + 3" becomes "1d20+3".
//
// When more than 10000 distinct totals are rolled, the histogram groups
// neighbouring totals: the result then has "bucketWidth" (totals per bin),
// and each bin covers "value" to "upTo" inclusive.
//
// # The text types: text.summarize, text.entities, text.index
//
// Each takes a "text" of at most 1 MiB (MaxTextBytes; the task input limit
// of 1 MiB applies to the whole JSON input too), which must not be blank.
// They check their context every few kilobytes, so cancellation and
// timeouts end them at once, and report progress (each tenth of the work)
// on texts of 64 KiB or more; a megabyte takes well under a second. The
// same input always gives the same result.
//
// Texts are read as notes are written. Blank lines end paragraphs; a line
// starting with a bullet ("-", "*", "+", "•", "1." or "1)") is an item of
// its own; a Markdown heading ("# ...") and a title line (a short line
// opening a paragraph, starting with a capital, without closing
// punctuation, or ending with a colon, such as "Session 12 — The Siege" or
// "Loot:") are headings. Other line breaks count as spaces, so hard-wrapped
// text reads as it should. A sentence ends at ".", "!", "?" or "…" (and any
// closing quotes or brackets) followed by a space or the end of a line,
// unless the next word starts in lower case or the full stop follows a
// common abbreviation ("Mr.", "Dr.", "St.", "Mt.", "e.g.", "etc.") or an
// initial ("J."). A word is a run of letters and digits, with apostrophes
// and hyphens inside it ("Elowen's", "half-orc").
//
// # text.summarize
//
// An extractive summary: the sentences that score best, in their original
// order. A sentence scores by how frequent its words are in the whole text
// (stop words left out, plurals folded, names counted half as much again),
// divided by the square root of its number of words so that long
// sentences are not favoured too much; sentences of one or two words score
// less; the first sentence, the first of each paragraph and the last get a
// bonus, as do sentences with words that mark events ("killed",
// "discovered", "agreed", "escaped"...). Headings are not sentences here.
// Ties go to the earlier sentence.
//
//	input: {
//	  "text": "...",        // required
//	  "sentences": 3        // optional, 1 to 50, default 3
//	}
//	result: {
//	  "summary": "...",     // the sentences chosen, joined by a space (by a
//	                        // line break after one without closing
//	                        // punctuation, such as a bullet item)
//	  "sentences": [        // the sentences chosen, in the text's order
//	    {"index": 4,        // its number among the text's sentences, from 0
//	     "text": "...",     // with runs of white space made one space
//	     "score": 0.87}     // relative to the best sentence's, 0 to 1
//	  ],
//	  "totalSentences": 21  // sentences in the text, headings left out
//	}
//
// # text.entities
//
// The characters, places and items a text mentions, with counts. This is
// heuristic, with no dictionary of names: it will miss some and misfile
// others. A name is a run of capitalised words, which may be joined by
// "of", "of the" or a particle ("von"), and which is not a stop word,
// written in capitals ("DM") or a common session-notes word ("Session",
// "Loot", weekdays, months). Words at a sentence opening (or after a quote,
// a bracket or a colon) are capitalised anyway, so there a word that the
// text also has in lower case is dropped ("Suddenly", "Inside"), and a
// single word counts only if it is a name elsewhere too or occurs twice.
// Dates ("the 3rd of Frostmoon") are not names. "X of Y" is one name when
// X is a title, a place word, an item word or an organisation ("Duke of
// Ashfall", "Temple of the Drowned Moon", "Amulet of Seven Winds", "Order
// of the Silver Flame"), and otherwise two ("Brannoc of Thornwall"; in
// "the Siege of Thornwall" only Thornwall).
//
// Items are names ending in (or, before "of", headed by) an item word
// (sword, staff, amulet, ring, potion, scroll, shield, armor, wand, tome,
// key, ...), plus items in lower case: "+1 longsword", "a potion of
// healing" (an item word, "of" and up to three words) and "a brass key"
// (an item word and the word before it; a bare "the key" is not counted).
// Places are names ending in a place word (Keep, Castle, Tower, City,
// Forest, River, Inn, Temple, ...) or starting with one (Mount, Lake, Fort,
// "Temple of ..."). Characters are names starting with a title (Lord, Lady,
// Sir, King, Queen, Captain, ...), and organisations ("House Varr", "the
// Thieves' Guild"). Other names are places when the words around them say
// so more than they say person: "in", "at", "into", "near", "reached"
// before the name count for a place ("to", "from" and "of" less);
// "said", "told" or "with" before it, a verb after it ("Elowen said",
// "Brannoc drew"), "who" after it ("Orla, who knew") or a possessive count
// for a person. Otherwise they are characters.
//
// A shorter form of a name is counted with the longer one when it is
// contained in exactly one (titles aside): "Elowen" and "Lady Elowen" with
// "Lady Elowen Varr", "Captain Dunmere" with "Captain Harl Dunmere", "the
// Amulet" with "Amulet of Seven Winds". A different title keeps them apart
// ("Lord Varr" is not "Lady Elowen Varr"). Places merge only a bare place
// word ("the Keep"), since "Thornwall" may be the town of "Thornwall Keep".
// Items found in lower case are counted without regard to case.
//
//	input: {
//	  "text": "...",   // required
//	  "minCount": 1    // optional: leave out names mentioned fewer times
//	}
//	result: {          // each list sorted by count, highest first, then name
//	  "characters": [{"name": "Lady Elowen Varr", "count": 5, "aliases": ["Elowen"]}],
//	  "places": [{"name": "Thornwall Keep", "count": 3}],
//	  "items": [{"name": "Amulet of Seven Winds", "count": 3}],
//	  "truncated": true  // only when a list was cut to its 1000 most mentioned
//	}
//
// # text.index
//
// A keyword index: every word of minLength characters or more that has a
// letter, in lower case and without a possessive "'s", with where it
// occurs. Stop words (the, and, of, ...) are left out unless "stopWords"
// is false.
//
//	input: {
//	  "text": "...",       // required
//	  "minLength": 3,      // optional, 1 to 100, default 3, in characters
//	  "stopWords": true    // optional, default true: leave out stop words
//	}
//	result: {
//	  "terms": [           // sorted by term, in code point order
//	    {"term": "dragon", "count": 3,
//	     "positions": [{"line": 1, "column": 5, "offset": 4}, ...],
//	     "truncated": true}  // only when positions lists fewer than count
//	  ],
//	  "lines": 12,         // a final line break does not start a line
//	  "words": 240,        // all words, indexed or not
//	  "totalTerms": 87     // distinct terms found
//	}
//
// Lines and columns count from 1, columns in characters (Unicode code
// points; a tab is one); "\n", "\r\n" and "\r" end lines. The offset is
// in bytes of the UTF-8 text, from 0. A term lists its first 1000
// positions (MaxIndexPositions). If the index would pass the 4 MiB result
// limit, every term keeps the same smaller number of positions, given as
// "positionsPerTerm"; and if even one each is too many, the least frequent
// terms are dropped and "termsTruncated" is true.
//
// # image.thumbnail
//
// Resizes a PNG or JPEG image to each size asked for, keeping its aspect
// ratio: the longer edge becomes the size. An image is never enlarged
// unless "upscale" is true: a size at least as large as the image gives
// the image at its own size, re-encoded. Shrinking averages the area each
// new pixel covers (a box filter), enlarging interpolates linearly; colours
// are averaged with their transparency, so transparent pixels do not
// darken their neighbours. A JPEG has no transparency: transparent parts
// become white. EXIF orientation is not applied; metadata is not kept.
//
//	input: {
//	  "image": "iVBORw0...",  // required: the image in base64 (standard or
//	                          // URL alphabet, padded or not), or a data URL
//	                          // "data:image/png;base64,..."
//	  "sizes": [128, 256],    // optional, 1 to 8 sizes of 1 to 4096 px,
//	                          // default [256]; repeats are made once
//	  "format": "png",        // optional, "png" or "jpeg" ("jpg"),
//	                          // default the format of the image
//	  "quality": 85,          // optional, 1 to 100, default 85: JPEG only
//	  "output": "base64",     // optional, "base64" (default) or "folder"
//	  "name": "handout-3",    // optional, for "folder": default the task id
//	  "upscale": false        // optional: enlarge images smaller than a size
//	}
//	result: {
//	  "source": {"width": 1600, "height": 1000, "format": "png"},
//	  "thumbnails": [         // in the order of "sizes"
//	    {"size": 128, "width": 128, "height": 80, "format": "png",
//	     "bytes": 9876,       // size of the encoded image
//	     "data": "iVBORw0..." // for "output": "base64"
//	     // or "path": "/srv/thumbs/handout-3-128.png" for "output": "folder"
//	    }
//	  ]
//	}
//
// The task input limit of 1 MiB holds the base64 text, so images can be up
// to about 750 KB. At submit time the image's header is read (not its
// pixels) and an image of more than 40 megapixels
// (DefaultThumbnailMaxPixels; 20 for 16-bit colour PNGs) is refused, so
// that a small file that would decode to a huge one cannot exhaust memory:
// decoding takes up to 160 MB. A file that is damaged past its header fails when the task
// runs. Base64 thumbnails must fit the 4 MiB result limit together; larger
// ones fail with a message suggesting smaller sizes, JPEG or folder output.
//
// Output "folder" writes each thumbnail as NAME-SIZE.png or NAME-SIZE.jpg
// to the folder of the node that runs the task, replacing a file of that
// name: the folder is ARCHIVIST_THUMBNAIL_DIR (ThumbnailDirEnv) when
// Register is used, and it is created if missing. When no folder is
// configured, such tasks are refused at submit time; nodes that share work
// should share the folder (or have the same one), since any node may run
// the task. Names may hold only letters, digits, ".", "_" and "-", must
// not start with a dot and are at most 100 characters: anything else, such
// as "../x", is refused. Files are written to a temporary name and renamed,
// through an os.Root, so nothing is written outside the folder. Progress
// is reported before decoding and before each size; cancellation ends the
// decoding and the resizing at once.
//
// # campaign.merge
//
// A workflow step that merges the results of the steps it depends on
// (Job.ParentResults) into one campaign index: the terms of "text.index"
// results, the characters, places and items of "text.entities" results
// and the summaries of "text.summarize" results, each with the step keys
// it came from. Counts add up; names merge ignoring case (the first form
// seen is kept) and their aliases are joined. A parent whose result is
// none of these is listed in "ignored". An earlier index given as "base"
// (inline, or {"$ref": "STEP.result"} of an earlier merge) is merged in
// too, and so is a parent whose result is a campaign index, so an index
// can grow session by session. With neither parents nor base it fails
// (not retried).
//
//	input: {
//	  "name": "The Drowned Moon",   // optional, up to 200 bytes
//	  "base": {...}                 // optional: an earlier campaign index
//	}
//	result: {
//	  "name": "The Drowned Moon",
//	  "sources": ["entities", "index", "summary"],   // the steps merged, sorted
//	  "terms": [{"term": "dragon", "count": 7, "sources": ["index"]}],  // by term
//	  "characters": [{"name": "Lady Elowen Varr", "count": 5,
//	                  "aliases": ["Elowen"], "sources": ["entities"]}], // by count
//	  "places": [...], "items": [...],
//	  "summaries": [{"source": "summary", "summary": "..."}],
//	  "words": 1234,              // the words of the indexed texts
//	  "ignored": ["notes"]        // parents of another kind, if any
//	}
//
// # handouts.scan
//
// A workflow step that fans out: it lists the PNG and JPEG images of a
// folder (by name, not recursively, hidden files left out) or takes images
// given inline, and adds one "image.thumbnail" step per image to its
// workflow (Job.AddSteps), with the "thumbnail" options (checked at
// submit time as image.thumbnail checks them) and the scan's priority.
// The added steps are keyed STEP-1, STEP-2... after the scan's own key, so
// a retried scan adds the same steps (give no other step of the workflow
// such a key: a key that exists is not added again). The steps that depend on the scan
// wait for every thumbnail and see their results. A "folder" is a path
// inside the handouts folder, ARCHIVIST_HANDOUTS_DIR (HandoutsDirEnv) with
// Register, read through an os.Root so nothing outside it is read; when
// none is configured such scans are refused at submit time. Images over
// MaxHandoutBytes (about 750 KB: the thumbnail's input limit) or that are
// not PNG or JPEG are skipped with the reason, and so are those past 64
// MiB for the whole scan; more than 500 images fail the scan. Outside a
// workflow it fails (not retried).
//
//	input: {
//	  "folder": "session-12",       // or "." for the handouts folder itself
//	  // or "images": [{"name": "map.png", "image": "<base64>"}]  (1 to 500)
//	  "thumbnail": {"sizes": [256], "format": "jpeg", "quality": 80,
//	                "output": "base64", "upscale": false}   // optional
//	}
//	result: {
//	  "handouts": [{"name": "map.png", "step": "scan-1", "bytes": 48213}],
//	  "skipped": [{"name": "huge.png", "reason": "..."}]   // if any
//	}
//
// With "output": "folder" each thumbnail is named after its image
// ("001-map-256.jpg").
//
// # handouts.index
//
// A workflow step after a "handouts.scan": from the scan's result and its
// thumbnail steps' results (Job.ParentResults) it makes the list of
// handouts and an HTML page of their thumbnails (inline data for base64
// thumbnails, the file for folder ones; names are escaped). A handout
// whose thumbnail step left no result is listed in "missing". Without a
// scan among its parents it fails (not retried).
//
//	input:  {"title": "Session 12 handouts"}   // optional, default "Handouts"
//	result: {
//	  "title": "Session 12 handouts",
//	  "handouts": [{"name": "map.png", "width": 1600, "height": 1000,
//	                "thumbnail": {"size": 256, "width": 256, "height": 160, ...}}],
//	  "missing": ["letter.png"],   // if any
//	  "html": "<!doctype html>..."
//	}
package tasks

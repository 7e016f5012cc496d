package tasks

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	archivist "github.com/rpg-archivist/archivist"
)

// Limits of "text.entities".
const (
	// MaxEntitiesPerKind bounds each list of a result; the most mentioned
	// are kept and the result says it was truncated.
	MaxEntitiesPerKind = 1000
	// maxNameWords and maxNameRunes bound a name: a longer run of
	// capitalised words is a title in Title Case, not a name.
	maxNameWords = 8
	maxNameRunes = 40
	// maxMergeCandidates bounds the longer names a short one is compared
	// with when merging, so that a text of nothing but names stays fast.
	maxMergeCandidates = 64
	// maxMergeTargets: a short form contained in more longer forms than
	// this is too ambiguous to merge.
	maxMergeTargets = 8
)

// EntitiesHandler runs "text.entities": the characters, places and items
// that a text mentions, found by heuristics on capitalisation and context.
type EntitiesHandler struct{}

// TextEntities is the result of "text.entities". Each list is sorted by
// count, highest first, then by name.
type TextEntities struct {
	Characters []Entity `json:"characters"`
	Places     []Entity `json:"places"`
	Items      []Entity `json:"items"`
	// Truncated is set when a list was cut to MaxEntitiesPerKind.
	Truncated bool `json:"truncated,omitempty"`
}

// Entity is a name and how often the text mentions it.
type Entity struct {
	// Name is the fullest form found, such as "Lady Elowen Varr".
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Aliases are shorter forms counted in Count, such as "Elowen".
	Aliases []string `json:"aliases,omitempty"`
}

type entitiesInput struct {
	text     string
	minCount int
}

const entitiesExample = `{"text": "Lady Elowen Varr rode to Thornwall Keep.", "minCount": 1}`

func parseEntitiesInput(input json.RawMessage) (entitiesInput, error) {
	var in entitiesInput
	f, err := decodeFields(input, entitiesExample, "text", "minCount")
	if err != nil {
		return in, err
	}
	if in.text, err = f.text("text", "the notes to find names in"); err != nil {
		return in, err
	}
	n, ok, err := f.int("minCount", 1, MaxTextBytes)
	if err != nil {
		return in, err
	}
	in.minCount = 1
	if ok {
		in.minCount = int(n)
	}
	return in, nil
}

// ValidateInput checks that input is {"text": T} with T some text of at most
// MaxTextBytes bytes and an optional "minCount" of at least 1.
func (EntitiesHandler) ValidateInput(input json.RawMessage) error {
	_, err := parseEntitiesInput(input)
	return err
}

// Handle finds the entities of the text and returns a TextEntities.
func (EntitiesHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := parseEntitiesInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	res, err := findEntities(in.text, in.minCount, newTextMeter(ctx, job, len(in.text)))
	if err != nil {
		return nil, err
	}
	return marshalResult(res)
}

// Word lists. All are lower case.
var (
	// nameTitles start a character's name.
	nameTitles = wordSet(`lord lady sir dame king queen prince princess captain capt duke duchess baron baroness count
		countess earl emperor empress lieutenant lt commander general gen sergeant sgt father mother brother sister
		master mistress magister archmage elder chief chieftain warden bishop abbot abbess priest priestess
		doctor dr mr mrs ms madam professor prof uncle aunt grandmother grandfather`)
	// titleAbbreviations may be followed by a full stop inside a name.
	titleAbbreviations = wordSet(`mr mrs ms dr capt lt sgt gen prof st mt ft`)
	// placeHeads end a place's name ("Thornwall Keep"), or come before "of"
	// ("Temple of the Drowned Moon").
	placeHeads = wordSet(`keep castle tower towers city town village hamlet forest wood woods river lake sea ocean bay isle
		island islands vale valley pass road bridge gate gates hall abbey monastery cathedral temple shrine sanctum
		sanctuary crypt tomb catacombs cave caves cavern caverns mine mines dungeon fortress fort citadel palace
		manor estate harbor harbour port docks marsh swamp fen moor moors desert plains plain peak peaks mountain
		mountains mount hill hills falls ruins market square street lane tavern inn library academy barrow hold
		spire grove glade wastes reach coast shore cliffs canyon gorge ford crossing quarter district kingdom empire
		realm province duchy barony county shire lands highlands lowlands woodland jungle tundra glacier volcano
		springs pit chapel church cemetery graveyard gardens outpost camp mill farm hollow dale downs heath cape
		lighthouse prison dungeons halls temple gulf strait straits`)
	// placeFirsts start a place's name ("Mount Hyjal", "Lake Vyr").
	placeFirsts = wordSet(`mount mt lake castle fort port isle cape fort tower temple`)
	// orgHeads and orgFirsts mark organisations ("Thieves' Guild", "House
	// Varr", "Order of the Silver Flame"), listed with the characters.
	orgHeads  = wordSet(`guild brotherhood sisterhood company council clan tribe legion syndicate league alliance cabal coven`)
	orgFirsts = wordSet(`house order clan knights church cult circle band brotherhood company council tribe`)
	// itemWords are the nouns of items ("Amulet of Seven Winds", "a potion
	// of healing", "a brass key").
	itemWords = wordSet(`sword longsword shortsword greatsword broadsword scimitar rapier dagger knife blade axe greataxe
		handaxe hammer warhammer mace flail spear lance halberd glaive trident bow longbow shortbow crossbow arrow
		staff quarterstaff wand rod scepter sceptre orb amulet talisman pendant necklace medallion locket ring
		circlet crown tiara diadem helm helmet shield buckler armor armour breastplate gauntlet gauntlets glove
		gloves boots cloak robe belt girdle bracers potion elixir philter philtre flask vial scroll tome book
		grimoire codex spellbook map key lantern mirror chalice goblet grail horn harp lute idol statuette relic
		artifact artefact gem jewel shard crystal skull sigil seal`)
	// notNames are capitalised words that are not names in session notes.
	notNames = wordSet(`i dm gm pc pcs npc npcs xp hp ac dc session sessions chapter part act scene episode day night
		note notes loot summary recap present absent previously today tonight tomorrow yesterday monday tuesday
		wednesday thursday friday saturday sunday january february march april may june july august september
		october november december player players party`)
	// nameParticles may join the parts of a name ("Ulric von Hale").
	nameParticles = wordSet(`de van von du da del della di la le al bin ibn ap`)
	// Words before a name that suggest a place, strongly or weakly.
	placePreps     = wordSet(`in at into inside near within outside reached reach entered enter visited visit beneath under above across through beyond toward towards around`)
	weakPlacePreps = wordSet(`to from of`)
	// Words around a name that suggest a person: verbs after it ("Elowen
	// said"), words before it ("said Elowen", "told Brannoc").
	personVerbs = wordSet(`said says told tells asked asks replied answered shouted whispered cried called spoke warned
		explained admitted insisted agreed refused drew draws cast casts climbed held holds took takes gave gives
		fled died dies attacked attacks struck healed heals revealed confirmed laughed smiled nodded sighed stayed
		kept opened hid helped joined led ran walked rode fought killed saw heard knew thought wanted tried begged
		promised swore decided arrived left returned stood sat fell`)
	personPreps = wordSet(`said asked told met thanked warned helped with by`)
	// romanNumerals may follow a name ("Aldric II").
	romanNumerals = wordSet(`II III IV V VI VII VIII IX X XI XII`)
)

// A kind of entity.
type entityKind int

const (
	kindCharacter entityKind = iota
	kindPlace
	kindItem
)

// etok is a word of a sentence, as the entity finder sees it.
type etok struct {
	w     string // the word, without a possessive "'s"
	lw    string // w in lower case
	poss  bool   // w had a possessive
	plain bool   // only spaces since the word before
	// opening is set on the first word of a sentence and on a word after an
	// opening quote, a bracket or a colon: a capital there says nothing.
	opening bool
	plus    bool // right after a "+", as in "+1 longsword"
	// afterStop is set when a full stop ends the word before ("Mr. Pell"),
	// afterApos when an apostrophe does ("Thieves' Guild").
	afterStop, afterApos bool
}

// mention is one mention of a name.
type mention struct {
	words    []string
	item     bool // found by an item pattern
	lowerKey bool // grouped without regard to case
	opening  bool
	place    int // evidence that it is a place
	person   int // evidence that it is a person
}

// eform is every mention of one form of a name.
type eform struct {
	name    string
	words   []string // lower case, full stops and apostrophes dropped ("mr", "pell")
	bare    []string // words without leading titles
	title   string   // the leading title, if any
	count   int
	inside  int // mentions not at a sentence opening
	place   int
	person  int
	item    bool
	kind    entityKind
	sure    bool // the kind comes from the name itself
	known   bool // there was some evidence of the kind
	ok      bool // accepted as a name
	idx     int  // the index of the form
	into    int  // the index of the form this one is merged into, or -1
	aliases []string
}

// findEntities finds the characters, places and items of text. See the
// package documentation for the heuristics.
func findEntities(text string, minCount int, m *textMeter) (*TextEntities, error) {
	m.stage("splitting sentences", 0, 0.3)
	sents, err := splitSentences(text, m)
	if err != nil {
		return nil, err
	}

	// Words of each sentence, and the words seen in lower case anywhere: a
	// capitalised one of those at a sentence opening is an ordinary word.
	m.stage("reading words", 0.3, 0.6)
	toks := make([][]etok, len(sents))
	lowerSeen := map[string]bool{}
	for i := range sents {
		first := true
		if err := sents[i].words(text, func(start, end int, plain bool) error {
			w := text[start:end]
			p := possessiveLen(w)
			w = w[:len(w)-p]
			t := etok{w: w, lw: strings.ToLower(w), poss: p > 0, plain: plain, opening: first || opensAfter(text, start)}
			t.plus = start > 0 && text[start-1] == '+'
			if !plain && !first {
				switch r, ok := markBefore(text, start); {
				case !ok:
				case r == '.':
					t.afterStop = true
				case r == '\'' || r == '’':
					t.afterApos = true
				}
			}
			if isLowerWord(w) {
				lowerSeen[t.lw] = true
			}
			toks[i] = append(toks[i], t)
			first = false
			return m.at(end)
		}); err != nil {
			return nil, err
		}
	}

	m.stage("finding names", 0.6, 0.9)
	var mentions []mention
	for i := range toks {
		if len(sents[i].frags) > 0 {
			if err := m.at(sents[i].frags[0].start); err != nil {
				return nil, err
			}
		}
		mentions = appendMentions(mentions, toks[i], lowerSeen)
	}

	forms, err := groupMentions(m.ctx, mentions)
	if err != nil {
		return nil, err
	}
	if err := mergeForms(m.ctx, forms, lowerSeen); err != nil {
		return nil, err
	}

	res := &TextEntities{Characters: []Entity{}, Places: []Entity{}, Items: []Entity{}}
	lists := map[entityKind]*[]Entity{kindCharacter: &res.Characters, kindPlace: &res.Places, kindItem: &res.Items}
	for _, f := range forms {
		if !f.ok || f.into >= 0 || f.count < minCount {
			continue
		}
		e := Entity{Name: f.name, Count: f.count}
		if len(f.aliases) > 0 {
			e.Aliases = slices.Compact(slices.Sorted(slices.Values(f.aliases)))
		}
		*lists[f.kind] = append(*lists[f.kind], e)
	}
	for _, l := range lists {
		slices.SortFunc(*l, func(a, b Entity) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count),
				cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Name, b.Name))
		})
		if len(*l) > MaxEntitiesPerKind {
			*l = (*l)[:MaxEntitiesPerKind]
			res.Truncated = true
		}
	}
	return res, nil
}

// opensAfter reports whether the word at start follows an opening quote, a
// bracket or a colon (spaces aside). A quote right after a word closes a
// quotation or marks a possessive ("Thieves' Guild").
func opensAfter(text string, start int) bool {
	r, afterWord := markBefore(text, start)
	switch r {
	case 0, '(', '[', ':', '“', '‘':
		return true
	case '"', '\'':
		return !afterWord
	}
	return false
}

// markBefore returns the last rune before start that is not a space, and
// whether a word ends right before it: true for the "." of "Mr. Pell" and
// the "'" of "Thieves' Guild".
func markBefore(text string, start int) (rune, bool) {
	k := start
	for k > 0 {
		r, size := utf8.DecodeLastRuneInString(text[:k])
		if !unicode.IsSpace(r) {
			before, _ := utf8.DecodeLastRuneInString(text[:k-size])
			return r, k > size && isWordRune(before)
		}
		k -= size
	}
	return 0, false
}

// isNameWord reports whether t may be part of a name: capitalised, not a
// stop word, not in capitals throughout (like "DM"), not too long.
func isNameWord(t etok) bool {
	return isCapitalised(t.w) && !stopWords[t.lw] && !isAllCaps(t.w) &&
		utf8.RuneCountInString(t.w) <= maxNameRunes
}

// itemWord returns the singular of w if it is an item noun.
func itemWord(lw string) (string, bool) {
	if itemWords[lw] {
		return lw, true
	}
	if s := stem(lw); itemWords[s] {
		return s, true
	}
	return "", false
}

func isArticle(lw string) bool { return lw == "the" || lw == "a" || lw == "an" }

// isOrdinal reports whether w is like "3rd" or "21st".
func isOrdinal(lw string) bool {
	i := 0
	for i < len(lw) && lw[i] >= '0' && lw[i] <= '9' {
		i++
	}
	return i > 0 && slices.Contains([]string{"st", "nd", "rd", "th"}, lw[i:])
}

func isDigits(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return w != ""
}

// plainLowerWord reports whether t follows its word with only spaces between
// and is a lower-case word of letters that is not a stop word.
func plainLowerWord(t etok) bool {
	if !t.plain || !isLowerWord(t.w) || stopWords[t.lw] {
		return false
	}
	for _, r := range t.w {
		if !unicode.IsLetter(r) && r != '-' && r != '\'' && r != '’' {
			return false
		}
	}
	return true
}

// appendMentions adds the mentions of one sentence's words.
func appendMentions(out []mention, toks []etok, lowerSeen map[string]bool) []mention {
	for i := 0; i < len(toks); {
		t := toks[i]
		switch {
		case t.plus && isDigits(t.w) && i+1 < len(toks) && toks[i+1].plain:
			// "+1 longsword", "+2 Shield of Warding".
			words, j := []string{"+" + t.w}, i+1
			if isNameWord(toks[j]) {
				seq, end := nameSequence(toks, j)
				words, j = append(words, seq...), end
			} else if plainLowerWord(toks[j]) {
				words, j = append(words, toks[j].w), j+1
				words, j = appendOfPhrase(words, toks, j, 2)
			} else {
				i++
				continue
			}
			out = append(out, mention{words: words, item: true, lowerKey: true})
			i = j
		case isNameWord(t):
			seq, end := nameSequence(toks, i)
			out = appendNames(out, toks, i, end, seq, lowerSeen)
			i = end
		case isLowerWord(t.w):
			head, ok := itemWord(t.lw)
			if !ok {
				i++
				continue
			}
			// "a potion of healing", else "a brass key"; a bare "the key" is
			// too common to count.
			if words, j := appendOfPhrase([]string{head}, toks, i+1, 3); j > i+1 {
				out = append(out, mention{words: words, item: true, lowerKey: true})
				i = j
				continue
			}
			if i > 0 && t.plain && !toks[i-1].poss && plainLowerWord(toks[i-1]) && !itemWords[toks[i-1].lw] && !toks[i-1].opening {
				out = append(out, mention{words: []string{toks[i-1].lw, head}, item: true, lowerKey: true})
			}
			i++
		default:
			i++
		}
	}
	return out
}

// appendOfPhrase adds "of" and up to n lower-case words to words if toks[j]
// is "of" followed by such words, and returns the index after them.
func appendOfPhrase(words []string, toks []etok, j, n int) ([]string, int) {
	if j >= len(toks) || toks[j].lw != "of" || !toks[j].plain || toks[j-1].poss {
		return words, j
	}
	k := j + 1
	for k < len(toks) && k-j-1 < n && plainLowerWord(toks[k]) {
		k++
		if toks[k-1].poss {
			break
		}
	}
	if k == j+1 {
		return words, j
	}
	words = append(words, "of")
	for _, t := range toks[j+1 : k] {
		words = append(words, t.w)
	}
	return words, k
}

// nameSequence returns the words of the name that starts at toks[i] and the
// index after it: capitalised words, joined by spaces, by "of" or "of the"
// ("Temple of the Drowned Moon"), by a particle ("Ulric von Hale"), or by
// the full stop of a title ("Mr. Pell"). A possessive ends the name.
func nameSequence(toks []etok, i int) ([]string, int) {
	words := []string{toks[i].w}
	j := i
	next := func(k int) bool { return k < len(toks) && toks[k].plain }
	for !toks[j].poss {
		switch {
		case next(j+1) && isNameWord(toks[j+1]):
			words = append(words, toks[j+1].w)
			j++
		case next(j+1) && romanNumerals[toks[j+1].w]:
			words = append(words, toks[j+1].w)
			j++
		case j+1 < len(toks) && titleAbbreviations[toks[j].lw] && isNameWord(toks[j+1]) && toks[j+1].afterStop && !toks[j+1].opening:
			words[len(words)-1] += "."
			words = append(words, toks[j+1].w)
			j++
		case j+1 < len(toks) && strings.HasSuffix(toks[j].lw, "s") && isNameWord(toks[j+1]) && toks[j+1].afterApos && !toks[j+1].opening:
			words[len(words)-1] += "'"
			words = append(words, toks[j+1].w)
			j++
		case next(j+1) && next(j+2) && (toks[j+1].lw == "of" || nameParticles[toks[j+1].w]) && isNameWord(toks[j+2]):
			words = append(words, toks[j+1].w, toks[j+2].w)
			j += 2
		case next(j+1) && next(j+2) && next(j+3) && toks[j+1].lw == "of" && toks[j+2].lw == "the" && isNameWord(toks[j+3]):
			words = append(words, toks[j+1].w, toks[j+2].w, toks[j+3].w)
			j += 3
		default:
			return words, j + 1
		}
	}
	return words, j + 1
}

// appendNames adds the mentions of the name seq, toks[i:end]: leading words
// that are not names are dropped, "X of Y" may be split, and the words
// around the name are weighed as evidence of its kind.
func appendNames(out []mention, toks []etok, i, end int, seq []string, lowerSeen map[string]bool) []mention {
	// Each turn handles seq, or its part before "of", and goes on with the
	// part after "of" when "X of Y" is split.
	for {
		words, first := trimName(toks, i, seq, lowerSeen)
		if len(words) == 0 {
			return out
		}
		// The word before the name, looking through "the": "in the
		// Greywater".
		prev, afterThe := "", false
		if first > 0 && toks[first].plain {
			prev = toks[first-1].lw
			if afterThe = prev == "the"; afterThe && first > 1 && toks[first-1].plain {
				prev = toks[first-2].lw
			}
		}
		// "X of Y": keep it whole when X ends with a word that names a
		// title, a place, an item or an organisation ("Duke of Ashfall",
		// "Tower of the Moon", "Amulet of Seven Winds", "Order of the Silver
		// Flame"); else it is two names ("Lady Elowen Varr of Thornwall"),
		// and a single X after "the" is an event ("the Siege of Thornwall").
		k := slices.IndexFunc(words, func(w string) bool { return strings.EqualFold(w, "of") })
		if k > 0 {
			head := strings.ToLower(strings.TrimSuffix(words[k-1], "."))
			_, isItem := itemWord(head)
			if !nameTitles[head] && !placeHeads[head] && !isItem && !orgHeads[head] && !orgFirsts[head] {
				if k > 1 || !afterThe {
					// X holds no "of": this call does not split again.
					out = appendNames(out, toks, first, first+k, words[:k], lowerSeen)
				}
				seq, i = words[k+1:], first+k+1
				if len(seq) > 0 && strings.EqualFold(seq[0], "the") {
					seq, i = seq[1:], i+1
				}
				continue
			}
		}
		if len(words) > maxNameWords {
			return out
		}
		// After an article the next word is still at the opening: "The
		// End", "A Storm".
		opening := toks[first].opening || (first > 0 && toks[first].plain && toks[first-1].opening && isArticle(toks[first-1].lw))
		mt := mention{words: words, opening: opening}
		switch {
		case placePreps[prev]:
			mt.place += 2
		case weakPlacePreps[prev]:
			mt.place++
		case personPreps[prev]:
			mt.person += 2
		}
		switch {
		case end < len(toks) && (toks[end].lw == "who" || toks[end].lw == "whom" || toks[end].lw == "whose"):
			mt.person += 2
		case toks[end-1].poss:
			mt.person++
		case end < len(toks) && toks[end].plain && personVerbs[toks[end].lw]:
			mt.person += 2
		case end < len(toks) && toks[end].plain && isLowerWord(toks[end].w) && strings.HasSuffix(toks[end].lw, "ed"):
			mt.person++
		}
		return append(out, mt)
	}
}

// trimName drops the words at the start of seq, toks[i:...], that are not
// part of a name: "Suddenly Elowen", "Session 12", "Later that night
// Elowen". It returns the words left and the index in toks of the first,
// or no words for a date ("the 3rd of Frostmoon") or a title alone ("the
// Captain").
func trimName(toks []etok, i int, seq []string, lowerSeen map[string]bool) ([]string, int) {
	opening := toks[i].opening || (i > 0 && toks[i].plain && toks[i-1].opening && isArticle(toks[i-1].lw))
	for len(seq) > 0 {
		lw := strings.ToLower(strings.TrimSuffix(seq[0], "."))
		if !notNames[lw] && !stopWords[lw] && lw != "of" && !nameParticles[lw] &&
			(!opening || !lowerSeen[lw] || nameTitles[lw]) {
			break
		}
		opening = opening && isArticle(lw)
		seq, i = seq[1:], i+1
	}
	if len(seq) == 0 ||
		(i >= 2 && toks[i].plain && toks[i-1].lw == "of" && isOrdinal(toks[i-2].lw)) ||
		!slices.ContainsFunc(seq, func(w string) bool { return !nameTitles[strings.ToLower(strings.TrimSuffix(w, "."))] }) {
		return nil, i
	}
	return seq, i
}

// groupMentions gathers the mentions of each form of a name, in the order
// of their first mention.
func groupMentions(ctx context.Context, mentions []mention) ([]*eform, error) {
	var forms []*eform
	byKey := map[string]*eform{}
	for n, mt := range mentions {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		name := strings.Join(mt.words, " ")
		key := name
		if mt.lowerKey {
			key = strings.ToLower(name)
		}
		f := byKey[key]
		if f == nil {
			f = &eform{name: name, idx: len(forms), into: -1}
			for _, w := range mt.words {
				f.words = append(f.words, strings.ToLower(strings.TrimRight(w, ".'")))
			}
			f.bare = f.words
			for len(f.bare) > 1 && nameTitles[f.bare[0]] {
				f.title += f.bare[0] + " "
				f.bare = f.bare[1:]
			}
			byKey[key] = f
			forms = append(forms, f)
		}
		f.count++
		if !mt.opening {
			f.inside++
		}
		f.place += mt.place
		f.person += mt.person
		f.item = f.item || mt.item
	}
	return forms, nil
}

// classify decides the kind of f from its words, or failing that from the
// evidence of its mentions. sure is set when the words decide.
func (f *eform) classify() {
	w := f.words
	head := w[len(w)-1]
	if k := slices.Index(w, "of"); k > 0 {
		head = w[k-1]
	}
	_, isItem := itemWord(head)
	f.sure = true
	switch {
	case f.item || isItem:
		f.kind = kindItem
	case placeHeads[head]:
		f.kind = kindPlace
	case orgHeads[head] || (len(w) > 1 && orgFirsts[w[0]]):
		f.kind = kindCharacter
	case len(w) > 1 && nameTitles[w[0]]:
		f.kind = kindCharacter
	case len(w) > 1 && placeFirsts[w[0]]:
		f.kind = kindPlace
	default:
		f.sure = false
		f.known = f.place > 0 || f.person > 0
		f.kind = kindCharacter
		if f.place > f.person {
			f.kind = kindPlace
		}
	}
}

// within reports whether f is a shorter form of g: its words without titles
// appear in a row in g's, and it has no title or g's ("Lord Varr" is not
// "Lady Elowen Varr").
func within(f, g *eform) bool {
	return contains(g.bare, f.bare) && (f.title == "" || g.title == "" || f.title == g.title)
}

// contains reports whether the words of short appear, in a row, in long.
func contains(long, short []string) bool {
	if len(short) == 0 || len(short) >= len(long) {
		return false
	}
	for i := 0; i+len(short) <= len(long); i++ {
		if slices.Equal(long[i:i+len(short)], short) {
			return true
		}
	}
	return false
}

// mergeForms classifies the forms, decides which are names, and merges a
// short form into the one longer form of its kind that contains it
// ("Elowen" into "Lady Elowen Varr", "Captain Dunmere" into "Captain Harl
// Dunmere", "Amulet" into "Amulet of Seven Winds"). A form whose own words
// and mentions say nothing of its kind takes the kind of the longer forms
// that contain it ("Thornwall" of "Thornwall Keep"). Places are merged
// only when the short form is a bare head word ("the Keep"): "Thornwall"
// may well be the town, not the keep.
func mergeForms(ctx context.Context, forms []*eform, lowerSeen map[string]bool) error {
	// Index the forms by their bare words, to find the longer forms that
	// contain a short one.
	byWord := map[string][]int{}
	for i, f := range forms {
		f.classify()
		f.ok = f.sure || f.inside > 0 || len(f.words) > 1 ||
			(f.count >= 2 && !lowerSeen[f.words[0]])
		if len(f.bare) > 1 || f.title != "" {
			for _, w := range slices.Compact(slices.Sorted(slices.Values(f.bare))) {
				byWord[w] = append(byWord[w], i)
			}
		}
	}
	// containers returns the forms that contain f, in the kind given (any
	// kind when all is set), or nil when there are too many to tell.
	containers := func(f *eform, kind entityKind, all bool) []*eform {
		cands := byWord[f.bare[0]]
		if len(cands) > maxMergeCandidates {
			return nil
		}
		var out []*eform
		for _, c := range cands {
			g := forms[c]
			if g != f && g.ok && (all || g.kind == kind) && within(f, g) {
				out = append(out, g)
			}
		}
		return out
	}
	for n, f := range forms {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if f.sure || f.known {
			continue
		}
		gs := containers(f, 0, true)
		if len(gs) == 0 {
			continue
		}
		kind := gs[0].kind
		if !slices.ContainsFunc(gs, func(g *eform) bool { return g.kind != kind }) {
			f.kind, f.ok = kind, true
		}
	}
	for n, f := range forms {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if f.kind == kindPlace && !(len(f.words) == 1 && placeHeads[f.words[0]]) {
			continue
		}
		gs := containers(f, f.kind, false)
		if len(gs) > maxMergeTargets {
			continue
		}
		// Keep only the longest: those no other container contains.
		var roots []*eform
		for _, g := range gs {
			if !slices.ContainsFunc(gs, func(h *eform) bool { return h != g && within(g, h) }) {
				roots = append(roots, g)
			}
		}
		if len(roots) != 1 {
			continue
		}
		f.ok = true
		f.into = roots[0].idx
	}
	// Follow chains of merges to their end and add up. Each merge is into
	// a longer form, so chains end; the bound is a guard.
	for _, f := range forms {
		if f.into < 0 {
			continue
		}
		root := forms[f.into]
		for steps := 0; root.into >= 0 && steps < len(forms); steps++ {
			root = forms[root.into]
		}
		root.count += f.count
		root.aliases = append(root.aliases, f.name)
	}
	return nil
}

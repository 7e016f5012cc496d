package graph

import (
	"container/list"
	"context"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
)

// DefaultQueryCacheBytes bounds the parsed queries a handler keeps, by
// their weight (see docWeight), when HandlerOptions.QueryCacheBytes is 0.
const DefaultQueryCacheBytes = 32 << 20

// docCache is gqlgen's cache of parsed and validated queries, keyed by the
// query's text, bounded both by count and by bytes: the text of a query
// may be up to the body limit (comments and blanks do not count as tokens),
// so a count alone lets 1,000 queries of 2 MB hold gigabytes. The least
// recently used go first. Safe for concurrent use.
type docCache struct {
	maxEntries int
	maxBytes   int64

	mu    sync.Mutex
	byKey map[string]*list.Element // of *docEntry
	order list.List                // front: most recently used
	bytes int64
}

type docEntry struct {
	query  string
	doc    *ast.QueryDocument
	weight int64
}

func newDocCache(maxEntries int, maxBytes int64) *docCache {
	return &docCache{maxEntries: maxEntries, maxBytes: maxBytes, byKey: map[string]*list.Element{}}
}

func (c *docCache) Get(_ context.Context, query string) (*ast.QueryDocument, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[query]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*docEntry).doc, true
}

func (c *docCache) Add(_ context.Context, query string, doc *ast.QueryDocument) {
	w := docWeight(query, doc)
	if w > c.maxBytes/4 {
		return // one query would push out a quarter of the others
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[query]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byKey[query] = c.order.PushFront(&docEntry{query: query, doc: doc, weight: w})
	c.bytes += w
	for c.bytes > c.maxBytes || c.order.Len() > c.maxEntries {
		el := c.order.Back()
		old := el.Value.(*docEntry)
		c.order.Remove(el)
		delete(c.byKey, old.query)
		c.bytes -= old.weight
	}
}

// docNodeBytes is about what one node of a parsed query (a selection, an
// argument, a value, a directive, a definition) takes with its position
// and slices.
const docNodeBytes = 320

// docWeight is about the memory a cached query holds: its text (the key,
// which the document's positions also point into) and its syntax tree.
func docWeight(query string, doc *ast.QueryDocument) int64 {
	n := int64(len(query)) + 512
	if doc == nil {
		return n
	}
	var nodes int64
	var values func(*ast.Value)
	values = func(v *ast.Value) {
		if v == nil {
			return
		}
		nodes++
		for _, c := range v.Children {
			values(c.Value)
		}
	}
	directives := func(ds ast.DirectiveList) {
		for _, d := range ds {
			nodes++
			for _, a := range d.Arguments {
				nodes++
				values(a.Value)
			}
		}
	}
	var selections func(ast.SelectionSet)
	selections = func(set ast.SelectionSet) {
		for _, sel := range set {
			nodes++
			switch s := sel.(type) {
			case *ast.Field:
				for _, a := range s.Arguments {
					nodes++
					values(a.Value)
				}
				directives(s.Directives)
				selections(s.SelectionSet)
			case *ast.InlineFragment:
				directives(s.Directives)
				selections(s.SelectionSet)
			case *ast.FragmentSpread:
				directives(s.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		nodes++
		for _, v := range op.VariableDefinitions {
			nodes++
			values(v.DefaultValue)
		}
		directives(op.Directives)
		selections(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		nodes++
		directives(f.Directives)
		selections(f.SelectionSet)
	}
	return n + nodes*docNodeBytes
}

package store

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rpg-archivist/archivist"
	bolt "go.etcd.io/bbolt"
)

// Bolt is the embedded, durable archivist.Store: one bbolt file. Every
// transition is written (and fsynced) before it is acknowledged; concurrent
// transitions share one file transaction (group commit).
type Bolt struct {
	*engine
	db *bolt.DB
}

var _ archivist.Store = (*Bolt)(nil)

var (
	bucketTasks = []byte("tasks")
	bucketNodes = []byte("nodes")
	bucketMeta  = []byte("meta")
	// bucketSettings holds node settings by node id (NodeSettings JSON).
	bucketSettings = []byte("nodesettings")
	bucketStats    = []byte("stats")
	keyMeta        = []byte("meta")

	// bucketSchedules holds schedules by name (Schedule JSON).
	bucketSchedules = []byte("schedules")
	// bucketWorkflows holds workflows by id (Workflow JSON).
	bucketWorkflows = []byte("workflows")
)

// OpenBolt opens (creating if needed, with its folder) the store file at
// path and loads it. A file held by another process gives an error after a
// few seconds instead of waiting forever.
func OpenBolt(path string, opts Options) (*Bolt, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create store folder: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 3 * time.Second})
	if err != nil {
		if err == bolt.ErrTimeout {
			return nil, fmt.Errorf("open store %s: the file is locked by another process (is another node running on it?)", path)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	b := &Bolt{db: db}
	b.engine = newEngine(opts, b)
	if err := b.loadAll(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("load store %s: %w", path, err)
	}
	b.engine.finishLoad()
	return b, nil
}

func (b *Bolt) loadAll() error {
	return b.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketTasks, bucketNodes, bucketMeta, bucketSettings, bucketStats, bucketSchedules, bucketWorkflows} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if v := tx.Bucket(bucketMeta).Get(keyMeta); v != nil {
			if err := json.Unmarshal(v, &b.engine.meta); err != nil {
				return fmt.Errorf("decode meta: %w", err)
			}
		}
		if err := tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
			t := &archivist.Task{}
			if err := json.Unmarshal(v, t); err != nil {
				return fmt.Errorf("decode task %s: %w", k, err)
			}
			b.engine.load(t)
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSettings).ForEach(func(k, v []byte) error {
			var ns archivist.NodeSettings
			if err := json.Unmarshal(v, &ns); err != nil {
				return fmt.Errorf("decode settings of node %s: %w", k, err)
			}
			b.engine.settings[string(k)] = ns
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketNodes).ForEach(func(k, v []byte) error {
			n := &archivist.Node{}
			if err := json.Unmarshal(v, n); err != nil {
				return fmt.Errorf("decode node %s: %w", k, err)
			}
			b.engine.nodes[n.ID] = n
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSchedules).ForEach(func(k, v []byte) error {
			s, err := unmarshalSchedule(v)
			if err != nil {
				return fmt.Errorf("decode schedule %s: %w", k, err)
			}
			if b.engine.schedules == nil {
				b.engine.schedules = map[string]*archivist.Schedule{}
			}
			b.engine.schedules[s.Name] = s
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketWorkflows).ForEach(func(k, v []byte) error {
			w := &archivist.Workflow{}
			if err := json.Unmarshal(v, w); err != nil {
				return fmt.Errorf("decode workflow %s: %w", k, err)
			}
			if b.engine.workflows == nil {
				b.engine.workflows = map[string]*archivist.Workflow{}
			}
			b.engine.workflows[w.ID] = w
			return nil
		}); err != nil {
			return err
		}
		// Statistics buckets: a bucket that cannot be read is dropped (the
		// tasks matter, the rollups can be lost), expired ones deleted.
		now := b.engine.opts.Now()
		sb := tx.Bucket(bucketStats)
		var drop [][]byte
		if err := sb.ForEach(func(k, v []byte) error {
			key, ok := parseStatKey(k)
			st := &statBucket{}
			if !ok || json.Unmarshal(v, st) != nil {
				b.engine.opts.Logger.Warn("store: dropping an unreadable statistics bucket", "key", fmt.Sprintf("%x", k))
				drop = append(drop, append([]byte(nil), k...))
				return nil
			}
			b.engine.stats.load(key, st, now)
			return nil
		}); err != nil {
			return err
		}
		for _, r := range b.engine.stats.take() {
			drop = append(drop, r.key)
		}
		for _, k := range drop {
			if err := sb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *Bolt) persist(batches []*batch) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		tasks, nodes, metaB, stats := tx.Bucket(bucketTasks), tx.Bucket(bucketNodes), tx.Bucket(bucketMeta), tx.Bucket(bucketStats)
		var last *meta
		for _, bt := range batches {
			for id, t := range bt.tasks {
				if t == nil {
					if err := tasks.Delete([]byte(id)); err != nil {
						return err
					}
					continue
				}
				v, err := json.Marshal(t)
				if err != nil {
					return err
				}
				if err := tasks.Put([]byte(id), v); err != nil {
					return err
				}
			}
			for id, n := range bt.nodes {
				if n == nil {
					if err := nodes.Delete([]byte(id)); err != nil {
						return err
					}
					continue
				}
				v, err := json.Marshal(n)
				if err != nil {
					return err
				}
				if err := nodes.Put([]byte(id), v); err != nil {
					return err
				}
			}
			for id, ns := range bt.settings {
				v, err := json.Marshal(ns)
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketSettings).Put([]byte(id), v); err != nil {
					return err
				}
			}
			for id, w := range bt.workflows {
				k := tx.Bucket(bucketWorkflows)
				if w == nil {
					if err := k.Delete([]byte(id)); err != nil {
						return err
					}
					continue
				}
				v, err := json.Marshal(w)
				if err != nil {
					return err
				}
				if err := k.Put([]byte(id), v); err != nil {
					return err
				}
			}
			for name, s := range bt.schedules {
				k := tx.Bucket(bucketSchedules)
				if s == nil {
					if err := k.Delete([]byte(name)); err != nil {
						return err
					}
					continue
				}
				v, err := marshalSchedule(s)
				if err != nil {
					return err
				}
				if err := k.Put([]byte(name), v); err != nil {
					return err
				}
			}
			if bt.metaChanged {
				last = &bt.meta
			}
			for _, r := range bt.stats {
				var err error
				if r.val == nil {
					err = stats.Delete(r.key)
				} else {
					err = stats.Put(r.key, r.val)
				}
				if err != nil {
					return err
				}
			}
		}
		if last != nil {
			v, err := json.Marshal(last)
			if err != nil {
				return err
			}
			return metaB.Put(keyMeta, v)
		}
		return nil
	})
}

func (b *Bolt) close() error { return b.db.Close() }

// Close flushes and closes the file; later calls fail.
func (b *Bolt) Close() error { return b.engine.close() }

// Path is the file the store lives in.
func (b *Bolt) Path() string { return b.db.Path() }

package graph

import (
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
)

// statsQuery turns the stats arguments (seconds; nil for the default)
// into a query.
func statsQuery(windowSeconds, bucketSeconds *int, group *string) archivist.StatsQuery {
	var q archivist.StatsQuery
	if group != nil {
		q.Group = *group
	}
	if windowSeconds != nil {
		q.Window = time.Duration(*windowSeconds) * time.Second
		if *windowSeconds == 0 {
			q.Window = -1 // zero given explicitly is not the default
		}
	}
	if bucketSeconds != nil {
		q.Bucket = time.Duration(*bucketSeconds) * time.Second
		if *bucketSeconds == 0 {
			q.Bucket = -1
		}
	}
	return q
}

func fmillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// clusterStats is st as the API shows it.
func clusterStats(st *archivist.Stats) *model.ClusterStats {
	out := &model.ClusterStats{
		WindowSeconds: int(st.Window / time.Second), BucketSeconds: int(st.Bucket / time.Second),
		ResolutionSeconds: int(st.Resolution / time.Second), From: st.From, To: st.To,
		Series:  make([]*model.StatsPoint, 0, len(st.Series)),
		ByType:  make([]*model.TypeStats, 0, len(st.ByType)),
		ByNode:  make([]*model.NodeStats, 0, len(st.ByNode)),
		ByGroup: make([]*model.GroupStats, 0, len(st.ByGroup)),
	}
	for _, p := range st.Series {
		out.Series = append(out.Series, statsPoint(p))
	}
	out.Total = statsPoint(st.Total)
	for _, t := range st.ByType {
		out.ByType = append(out.ByType, &model.TypeStats{Type: t.Type, Completed: int(t.Completed), Failed: int(t.Failed),
			WaitP95Ms: fmillis(t.WaitP95), RunP95Ms: fmillis(t.RunP95)})
	}
	for _, n := range st.ByNode {
		out.ByNode = append(out.ByNode, &model.NodeStats{NodeID: n.NodeID, Completed: int(n.Completed), Failed: int(n.Failed),
			BusySeconds: n.BusyTime.Seconds(), WorkerSeconds: n.WorkerTime.Seconds(), Utilization: n.Utilization})
	}
	for _, g := range st.ByGroup {
		out.ByGroup = append(out.ByGroup, &model.GroupStats{Group: g.Group, Submitted: int(g.Submitted),
			Completed: int(g.Completed), Failed: int(g.Failed), WaitP95Ms: fmillis(g.WaitP95), RunP95Ms: fmillis(g.RunP95)})
	}
	return out
}

func statsPoint(p archivist.StatsPoint) *model.StatsPoint {
	return &model.StatsPoint{At: p.At, Submitted: int(p.Submitted), Completed: int(p.Completed),
		Failed: int(p.Failed), WaitP50Ms: fmillis(p.WaitP50), WaitP95Ms: fmillis(p.WaitP95),
		RunP50Ms: fmillis(p.RunP50), RunP95Ms: fmillis(p.RunP95)}
}

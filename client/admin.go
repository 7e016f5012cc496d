package client

import "context"

// Nodes lists the cluster's nodes.
func (c *Client) Nodes(ctx context.Context) ([]*Node, error) {
	var out struct{ Nodes []*Node }
	err := c.Do(ctx, `{ nodes { `+nodeFields+` } }`, nil, &out)
	return out.Nodes, err
}

// Drain stops placing new tasks on a node; what it runs finishes.
func (c *Client) Drain(ctx context.Context, id string) (*Node, error) {
	var out struct{ DrainNode *Node }
	err := c.Do(ctx, `mutation($id: ID!) { drainNode(id: $id) { `+nodeFields+` } }`, map[string]any{"id": id}, &out)
	return out.DrainNode, err
}

// Resume puts a drained node back into placement.
func (c *Client) Resume(ctx context.Context, id string) (*Node, error) {
	var out struct{ ResumeNode *Node }
	err := c.Do(ctx, `mutation($id: ID!) { resumeNode(id: $id) { `+nodeFields+` } }`, map[string]any{"id": id}, &out)
	return out.ResumeNode, err
}

// Config returns the cluster configuration.
func (c *Client) Config(ctx context.Context) (Config, error) {
	var out struct{ Config Config }
	err := c.Do(ctx, `{ config { `+configFields+` } }`, nil, &out)
	return out.Config, err
}

// UpdateConfig changes the fields given in input (ConfigInput of the API:
// workers, strategy, heartbeatIntervalMs, thresholds, ...) and returns the
// new configuration.
func (c *Client) UpdateConfig(ctx context.Context, input map[string]any) (Config, error) {
	var out struct{ UpdateConfig Config }
	err := c.Do(ctx, `mutation($in: ConfigInput!) { updateConfig(input: $in) { `+configFields+` } }`, map[string]any{"in": input}, &out)
	return out.UpdateConfig, err
}

// NodeUpdate is what UpdateNode changes (NodeInput of the API); zero fields
// keep their value.
type NodeUpdate struct {
	// Name is the display name ("": keep).
	Name string
	// Role is MASTER, WORKER or HYBRID ("": keep).
	Role string
	// Workers is how many tasks the node runs at once (0: keep).
	Workers int
	// Capabilities replace the node's when not nil; an empty, non-nil list
	// means every type it has a handler for.
	Capabilities []string
}

// UpdateNode changes a node's name, role, workers or capabilities; the node
// applies them without a restart and keeps them across restarts. Needs an
// admin key.
func (c *Client) UpdateNode(ctx context.Context, id string, u NodeUpdate) (*Node, error) {
	in := map[string]any{}
	if u.Name != "" {
		in["name"] = u.Name
	}
	if u.Role != "" {
		in["role"] = u.Role
	}
	if u.Workers != 0 {
		in["workers"] = u.Workers
	}
	if u.Capabilities != nil {
		in["capabilities"] = u.Capabilities
	}
	var out struct{ UpdateNode *Node }
	err := c.Do(ctx, `mutation($id: ID!, $in: NodeInput!) { updateNode(id: $id, input: $in) { `+nodeFields+` } }`,
		map[string]any{"id": id, "in": in}, &out)
	return out.UpdateNode, err
}

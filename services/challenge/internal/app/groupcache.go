package app

import (
	"context"
	"sync"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// groupCache keeps groups as read from MySQL for the leaderboard's read
// path, so a read costs its board's Redis calls and no query. Only what
// never changes after creation is used from it: the id, the owner and the
// plan (its start date included). Joining open or closed, the one field
// that changes, is never read from it, and groups are never deleted.
type groupCache struct {
	mu sync.RWMutex
	m  map[int64]*domain.Group
}

// groupCacheMax bounds the cache; past it an arbitrary entry makes room
// (a miss costs one indexed query).
const groupCacheMax = 10000

func (c *groupCache) get(id int64) (*domain.Group, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	g, ok := c.m[id]
	return g, ok
}

func (c *groupCache) put(g *domain.Group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[int64]*domain.Group)
	}
	if len(c.m) >= groupCacheMax {
		for id := range c.m {
			delete(c.m, id)
			break
		}
	}
	c.m[g.ID()] = g
}

// boardGroup is the group for a leaderboard read: from the cache, or from
// MySQL (ErrGroupNotFound when there is none).
func (a *Application) boardGroup(ctx context.Context, groupID int64) (*domain.Group, error) {
	if groupID <= 0 {
		return nil, ErrGroupNotFound
	}
	if g, ok := a.groups.get(groupID); ok {
		return g, nil
	}
	g, err := a.repo.GetGroup(ctx, groupID)
	if err != nil {
		return nil, err
	}
	a.groups.put(g)
	return g, nil
}

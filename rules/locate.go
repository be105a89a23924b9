package rules

import (
	"slices"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// Locate finds the location of a record and the access groups its mapping gives there. Passes and visitors
// name their business; bookings and contracts do not, so theirs is the first location whose mapping names
// the booking's resource or desk, or one of the contract's desks and offices. A nil location means the record
// is at no configured location (or nothing of it is mapped): it gives no access.
func Locate(cfg *config.Config, record any) (*config.Location, []string) {
	switch r := record.(type) {
	case nexudus.Booking:
		for i := range cfg.Locations {
			l := &cfg.Locations[i]
			groups := slices.Clone(l.Resources[int64(r.ResourceId)])
			if r.FloorPlanDeskId != nil {
				groups = append(groups, l.Desks[int64(*r.FloorPlanDeskId)]...)
			}
			if len(groups) > 0 {
				return l, normalise(groups)
			}
		}
	case nexudus.CoworkerContract:
		for i := range cfg.Locations {
			l := &cfg.Locations[i]
			var groups []string
			for _, d := range r.DeskIDs() {
				groups = append(groups, l.Desks[int64(d)]...)
			}
			if len(groups) > 0 {
				return l, normalise(groups)
			}
		}
	case nexudus.CoworkerTimePass:
		if l, ok := cfg.Location(int64(r.BusinessId)); ok {
			return l, normalise(l.Passes[int64(r.TimePassId)])
		}
	case nexudus.Visitor:
		if l, ok := cfg.Location(int64(r.BusinessId)); ok {
			var groups []string
			if len(l.VisitorGroups) > 0 {
				groups = []string{l.VisitorGroups[0]}
			}
			return l, groups
		}
	}
	return nil, nil
}

func normalise(groups []string) []string {
	if len(groups) == 0 {
		return nil
	}
	out := slices.Clone(groups)
	slices.Sort(out)
	return slices.Compact(out)
}

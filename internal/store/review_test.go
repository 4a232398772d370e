package store_test

import (
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

func TestFindPeopleAndCount(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := t.Context()
		add := func(i int, op, opName, target, name, upn string, o portal.Outcome) {
			record(t, s, portal.Event{Time: t0.Add(time.Duration(i) * time.Minute), Action: portal.ActionIssue, Outcome: o,
				OperatorID: op, OperatorName: opName, TargetID: target, TargetName: name, TargetUPN: upn})
		}
		add(0, "op-1", "Priya Natarajan", "u-1", "Ben Carter", "ben.carter@northwind.example", portal.OutcomeSuccess)
		add(1, "op-1", "Priya Natarajan", "u-2", "Benedikt Maier", "b.maier@northwind.example", portal.OutcomeRefused)
		add(2, "op-2", "Tomás Ferreira", "u-3", "Amara Okafor", "amara.okafor@northwind.example", portal.OutcomeSuccess)
		add(3, "op-3", "100%_Sure", "u-1", "Ben Carter", "ben.carter@northwind.example", portal.OutcomeFailed)

		for _, tt := range []struct {
			kind portal.People
			text string
			want []string
		}{
			{portal.Targets, "ben", []string{"u-1", "u-2"}},
			{portal.Targets, "AMARA.OKAFOR@", []string{"u-3"}},
			{portal.Targets, "maier", []string{"u-2"}},
			{portal.Operators, "priya", []string{"op-1"}},
			{portal.Operators, "%", []string{"op-3"}},
			{portal.Operators, "_", []string{"op-3"}},
			{portal.Operators, "nobody", nil},
		} {
			got, err := s.FindPeople(ctx, tt.kind, tt.text, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, p := range got {
				ids = append(ids, p.ID)
			}
			if len(ids) != len(tt.want) || (len(ids) > 0 && ids[0] != tt.want[0]) {
				t.Errorf("FindPeople(%s, %q) = %v, want %v", tt.kind, tt.text, ids, tt.want)
			}
		}
		if got, _ := s.FindPeople(ctx, portal.Targets, "ben", "op-3", 10); len(got) != 1 || got[0].ID != "u-1" {
			t.Errorf("Ben within op-3's records = %+v, want u-1 only", got)
		}
		if got, _ := s.FindPeople(ctx, portal.Targets, "ben", "", 10); len(got) != 2 || got[0].Name != "Ben Carter" || got[0].UPN != "ben.carter@northwind.example" {
			t.Errorf("Ben = %+v, want his name and UPN", got)
		}
		for _, tt := range []struct {
			f    portal.EventFilter
			max  int
			want int
		}{
			{portal.EventFilter{}, 100, 4},
			{portal.EventFilter{}, 3, 3},
			{portal.EventFilter{TargetID: "u-1"}, 100, 2},
			{portal.EventFilter{Outcome: portal.OutcomeSuccess}, 100, 2},
			{portal.EventFilter{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, 100, 2},
			{portal.EventFilter{From: t0.Add(time.Hour)}, 100, 0},
		} {
			if n, err := s.Count(ctx, tt.f, tt.max); err != nil || n != tt.want {
				t.Errorf("Count(%+v, %d) = %d, %v; want %d", tt.f, tt.max, n, err, tt.want)
			}
		}
	})
}

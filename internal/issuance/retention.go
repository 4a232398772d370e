package issuance

import (
	"context"
	"fmt"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Retain deletes history records older than days, recording the deletion.
func (s *Service) Retain(ctx context.Context, days int) (int64, error) {
	if days <= 0 {
		return 0, nil
	}
	cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour)
	return s.history.DeleteBefore(ctx, cutoff, portal.Event{
		OperatorName: "TAP Portal (retention)",
		Reason:       fmt.Sprintf("Retention: records older than %d days are deleted.", days),
	})
}

#!/bin/sh
# Generic CI step (GitLab, Jenkins, Buildkite, cron): run the drift check and map its exit
# code. 0: in sync; 2: drift found (names printed, never values); 1: a source could not be
# read (Vault denied, kubectl missing): fail loudly, it is not "no drift".
#   POLICY=policies/drift/aura-sign.yaml ENVIRONMENT=production FORMAT=text templates/ci/drift-step.sh
set -u
POLICY=${POLICY:-policies/drift/aura-sign.yaml}
ENVIRONMENT=${ENVIRONMENT:-production}
FORMAT=${FORMAT:-text}
REPORT=${REPORT:-drift-report.json}

lockstep drift --policy "$POLICY" --env "$ENVIRONMENT" --format "$FORMAT"
status=$?
# Keep a machine-readable copy for dashboards (same check, JSON).
lockstep drift --policy "$POLICY" --env "$ENVIRONMENT" --format json > "$REPORT" 2>/dev/null || true
case $status in
  0) echo "env keys in sync for $ENVIRONMENT" ;;
  2) echo "env key drift in $ENVIRONMENT: see above and $REPORT" >&2 ;;
  *) echo "drift check could not run (exit $status)" >&2 ;;
esac
exit $status

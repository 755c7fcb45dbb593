# Brings a fleet's database up to date on the PostgreSQL this reaches (the local socket as its administrator, or
# libpq's PGHOST/PGUSER/... environment): creates the database if it is missing, applies `ai-sysadmin fleet schema`
# and a login role per host and operator. Idempotent: ai-sysadmin-fleet-database.service runs it at every start.
#
#   fleet-database.sh DATABASE [host:ID | operator:NAME]...
#
# Passwords are not set here: psql's `\password ROLE` sends only a SCRAM verifier.
set -euo pipefail

database=${1:-}
case $database in
  '' | [0-9]* | *[!a-z0-9_]*)
    echo "fleet-database.sh: '$database' is not a database name (lower-case letters, digits and _)" >&2
    exit 2 ;;
esac
shift

if [ "$(psql -X -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
  echo "creating the database $database"
  createdb "$database"
fi
ai-sysadmin fleet schema | psql -X -q -v ON_ERROR_STOP=1 -d "$database"
for role in "$@"; do
  kind=${role%%:*} name=${role#*:}
  case $kind in
    host | operator) ;;
    *) echo "fleet-database.sh: '$role' is neither host:ID nor operator:NAME" >&2; exit 2 ;;
  esac
  # The name is checked by `fleet role`, which prints nothing for a bad one and fails the pipe.
  ai-sysadmin fleet role "$kind" "$name" | psql -X -q -v ON_ERROR_STOP=1 -d "$database"
done
echo "the fleet's database $database has schema version $(psql -X -d "$database" -tAc 'SELECT max(version) FROM fleet_schema') and $# roles checked"

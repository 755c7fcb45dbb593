import Logging
import PostgresNIO
import SysadminConfiguration

/// The fleet database: what every host publishes, each row with the host it came from, and the roles that keep a
/// host to its own rows (row-level security) while operators read everything.
///
/// Roles: `ais_operator` (a group role for people and `ai-sysadmin fleet` commands: reads every host's rows and records
/// decisions on queued proposals) and one login role per host, `ais_host_<id>` (a member of `ais_host`: writes and
/// reads only rows whose `host` is its own id, and may only mark a decision on its proposals as applied, never make
/// one). An administrator (the database's owner, with CREATEROLE) applies the schema (``statements``) and creates the
/// roles (``createHost(_:)``, ``createOperator(_:)``); passwords are set with psql's `\password`, which sends only a
/// SCRAM verifier, so no password is ever in a statement the server might log.
public enum FleetSchema {
    /// The version ``statements`` bring a database to; kept in `fleet_schema`.
    public static let version = 4

    /// The host role's name for `id`.
    public static func role(forHost id: String) -> String { PostgreSQLConfiguration.hostRolePrefix + id }

    /// An operator's role name: like a host id, but never one of the fleet's own roles or PostgreSQL's, which would
    /// give hosts an operator's reach or reset a role that is not a person's.
    public static func isValidOperatorName(_ name: String) -> Bool {
        PostgreSQLConfiguration.isValidHostID(name) && !name.hasPrefix("ais_") && !name.hasPrefix("pg_") && name != "postgres"
    }

    /// The schema, its policies and the group roles, idempotently: safe to apply again.
    public static let statements: [String] = [
        """
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ais_host') THEN CREATE ROLE ais_host NOLOGIN; END IF;
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ais_operator') THEN CREATE ROLE ais_operator NOLOGIN; END IF;
        END $$
        """,
        "CREATE TABLE IF NOT EXISTS fleet_schema (version integer NOT NULL)",
        "GRANT SELECT ON fleet_schema TO ais_host, ais_operator",
        // Nobody but the owner creates objects here (PostgreSQL 15's default; older databases allowed everyone), so a
        // host cannot plant a function that another session's statements would call.
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        // Roles are the cluster's: only the fleet's may connect to this database.
        """
        DO $$ BEGIN
          EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());
          -- Nor temporary objects: nothing here needs them, and a session's own pg_temp is one more place to plant one.
          EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
          EXECUTE format('GRANT CONNECT ON DATABASE %I TO ais_host, ais_operator', current_database());
        END $$
        """,
        // The host a session writes for: its role's name without the prefix; NULL for any other role.
        """
        CREATE OR REPLACE FUNCTION ais_session_host() RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog AS
        $$ SELECT CASE WHEN starts_with(session_user, '\(PostgreSQLConfiguration.hostRolePrefix)')
                       THEN substring(session_user FROM \(PostgreSQLConfiguration.hostRolePrefix.count + 1)) END $$
        """,
        """
        CREATE TABLE IF NOT EXISTS host (
          id text PRIMARY KEY DEFAULT ais_session_host(),
          heartbeat_at timestamptz NOT NULL,
          heartbeat jsonb NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS event (
          host text NOT NULL DEFAULT ais_session_host(),
          local_id bigint NOT NULL,
          time timestamptz NOT NULL,
          severity text NOT NULL,
          category text NOT NULL,
          escalate boolean NOT NULL,
          summary text NOT NULL,
          source text NOT NULL,
          message text NOT NULL,
          unit text,
          PRIMARY KEY (host, local_id)
        )
        """,
        "CREATE INDEX IF NOT EXISTS event_by_time ON event (time)",
        "CREATE INDEX IF NOT EXISTS event_by_host_time ON event (host, time)",
        """
        CREATE TABLE IF NOT EXISTS proposal (
          host text NOT NULL DEFAULT ais_session_host(),
          local_id bigint NOT NULL,
          created_at timestamptz NOT NULL,
          source text NOT NULL,
          type text NOT NULL,
          parameters jsonb NOT NULL,
          unit text,
          rationale text NOT NULL,
          action text,
          risk text,
          expected_effect text NOT NULL,
          rollback text NOT NULL,
          state text NOT NULL,
          reason text,
          result text,
          decided_by text,
          decided_at timestamptz,
          expires_at timestamptz,
          PRIMARY KEY (host, local_id)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS audit (
          host text NOT NULL DEFAULT ais_session_host(),
          local_id bigint NOT NULL,
          time timestamptz NOT NULL,
          proposal_local_id bigint NOT NULL,
          event text NOT NULL,
          actor text NOT NULL,
          detail text NOT NULL,
          PRIMARY KEY (host, local_id)
        )
        """,
        // Layer 3's reviews and Layer 4's analyses, as the host stored them (JSON documents).
        """
        CREATE TABLE IF NOT EXISTS review (
          host text NOT NULL DEFAULT ais_session_host(),
          local_id bigint NOT NULL,
          time timestamptz NOT NULL,
          document jsonb NOT NULL,
          PRIMARY KEY (host, local_id)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS analysis (
          host text NOT NULL DEFAULT ais_session_host(),
          local_id bigint NOT NULL,
          time timestamptz NOT NULL,
          document jsonb NOT NULL,
          PRIMARY KEY (host, local_id)
        )
        """,
        // An operator's decision on a host's queued proposal. Only operators make one (for a proposal the fleet sees
        // queued, under their own name); the owning host reads it, applies it through its own ledger and policy, and
        // says how that went. One per proposal: of two operators deciding at once, one wins.
        """
        CREATE TABLE IF NOT EXISTS decision (
          id bigserial PRIMARY KEY,
          host text NOT NULL,
          proposal_local_id bigint NOT NULL,
          -- What the operator saw: the host applies the decision only to a local proposal that is still this one.
          proposal_type text NOT NULL,
          proposal_parameters jsonb NOT NULL,
          verdict text NOT NULL CHECK (verdict IN ('approve', 'reject')),
          note text CHECK (length(note) <= \(noteLimit)),
          operator text NOT NULL DEFAULT session_user,
          decided_at timestamptz NOT NULL DEFAULT now(),
          applied_at timestamptz,
          outcome text,
          UNIQUE (host, proposal_local_id),
          CHECK (verdict = 'approve' OR length(note) > 0)
        )
        """,
        "ALTER TABLE decision ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE decision FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS decision_own ON decision",
        "CREATE POLICY decision_own ON decision TO ais_host USING (host = ais_session_host()) WITH CHECK (host = ais_session_host())",
        "DROP POLICY IF EXISTS decision_read ON decision",
        "CREATE POLICY decision_read ON decision FOR SELECT TO ais_operator USING (true)",
        "DROP POLICY IF EXISTS decision_decide ON decision",
        """
        CREATE POLICY decision_decide ON decision FOR INSERT TO ais_operator WITH CHECK (
          operator = session_user AND applied_at IS NULL AND outcome IS NULL
          AND EXISTS (SELECT FROM proposal WHERE proposal.host = decision.host AND proposal.local_id = decision.proposal_local_id
                      AND proposal.state = 'queued' AND proposal.type = decision.proposal_type
                      AND proposal.parameters = decision.proposal_parameters))
        """,
        // Column grants: a host may say only that and how it applied a decision; an operator may name only the
        // proposal, the verdict and a note (who and when are the database's).
        "GRANT SELECT, UPDATE (applied_at, outcome) ON decision TO ais_host",
        "GRANT SELECT, INSERT (host, proposal_local_id, proposal_type, proposal_parameters, verdict, note) ON decision TO ais_operator",
        "GRANT USAGE ON SEQUENCE decision_id_seq TO ais_operator",
        // The owning host hears of a decision at once, on a channel of its own. PostgreSQL lets any session LISTEN to
        // any channel, so the notification carries nothing: the host reads its decisions, which only it may see.
        """
        CREATE OR REPLACE FUNCTION ais_decision_notify() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS
        $$ BEGIN PERFORM pg_notify('\(decisionChannelPrefix)' || NEW.host, ''); RETURN NULL; END $$
        """,
        "DROP TRIGGER IF EXISTS decision_notify ON decision",
        "CREATE TRIGGER decision_notify AFTER INSERT ON decision FOR EACH ROW EXECUTE FUNCTION ais_decision_notify()",
        // What a trigger model said of a template, shared by every host with the same model, so a fleet asks once per
        // kind of line. Deliberately readable by every host; written under the learning host's name only, and replaced
        // only by another host once a week old.
        """
        CREATE TABLE IF NOT EXISTS verdict (
          model text NOT NULL,
          template text NOT NULL,
          severity text NOT NULL,
          category text NOT NULL,
          escalate boolean NOT NULL,
          summary text NOT NULL,
          learned_by text NOT NULL DEFAULT ais_session_host(),
          learned_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (model, template),
          -- Bounds and values as Layer 1 makes them: another host's row is read as untrusted, but need not be arbitrary.
          CHECK (length(model) <= 300 AND length(template) <= 2000 AND length(summary) BETWEEN 1 AND 200),
          CHECK (severity IN ('normal', 'info', 'warning', 'error', 'critical')),
          CHECK (category IN ('service', 'resource', 'security', 'network', 'disk', 'hardware', 'other'))
        )
        """,
        "ALTER TABLE verdict ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE verdict FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS verdict_shared ON verdict",
        "CREATE POLICY verdict_shared ON verdict FOR SELECT TO ais_host, ais_operator USING (true)",
        "DROP POLICY IF EXISTS verdict_learned ON verdict",
        "CREATE POLICY verdict_learned ON verdict FOR INSERT TO ais_host WITH CHECK (learned_by = ais_session_host())",
        "DROP POLICY IF EXISTS verdict_renewed ON verdict",
        """
        CREATE POLICY verdict_renewed ON verdict FOR UPDATE TO ais_host USING (learned_at < now() - interval '\(verdictRenewalDays) days'
          AND learned_by <> ais_session_host())
          WITH CHECK (learned_by = ais_session_host() AND learned_at BETWEEN now() - interval '1 minute' AND now() + interval '1 minute')
        """,
        """
        GRANT SELECT, INSERT (model, template, severity, category, escalate, summary),
          UPDATE (severity, category, escalate, summary, learned_by, learned_at) ON verdict TO ais_host
        """,
        // An operator may remove a verdict that is wrong; the next host to meet the line asks its model again.
        "DROP POLICY IF EXISTS verdict_removed ON verdict",
        "CREATE POLICY verdict_removed ON verdict FOR DELETE TO ais_operator USING (true)",
        "GRANT SELECT, DELETE ON verdict TO ais_operator",
    ] + ["host", "event", "proposal", "audit", "review", "analysis"].flatMap { table in
        let column = table == "host" ? "id" : "host"
        return [
            "ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE \(table) FORCE ROW LEVEL SECURITY",
            "DROP POLICY IF EXISTS \(table)_own ON \(table)",
            // A host reads and writes its own rows only: a row for another host is neither visible nor insertable.
            "CREATE POLICY \(table)_own ON \(table) TO ais_host USING (\(column) = ais_session_host()) WITH CHECK (\(column) = ais_session_host())",
            "DROP POLICY IF EXISTS \(table)_read ON \(table)",
            "CREATE POLICY \(table)_read ON \(table) FOR SELECT TO ais_operator USING (true)",
            // Events, audit lines, reviews and analyses are append-only; a proposal's state and a heartbeat change.
            "GRANT SELECT, INSERT\(["proposal", "host"].contains(table) ? ", UPDATE" : "") ON \(table) TO ais_host",
            "GRANT SELECT ON \(table) TO ais_operator",
        ]
    } + [
        "DELETE FROM fleet_schema",
        "INSERT INTO fleet_schema (version) VALUES (\(version))",
    ]

    /// The longest note or reason a decision keeps (as the host's ledger does).
    public static let noteLimit = 500

    static let decisionChannelPrefix = "ais_decision_"

    /// How old a shared verdict must be before another host may replace it (never the host that learned it, which could
    /// otherwise keep its own verdict fresh for ever): a week, `monitoring.verdictDays`' default.
    static let verdictRenewalDays = 7

    /// The channel host `id` hears of decisions on.
    public static func decisionChannel(forHost id: String) -> String { decisionChannelPrefix + id }

    /// Creates host `id`'s login role (without a password: set it with psql's `\password`).
    public static func createHost(_ id: String) throws(RoleNameError) -> String {
        guard PostgreSQLConfiguration.isValidHostID(id) else { throw RoleNameError(name: id) }
        return createLoginRole(role(forHost: id), member: "ais_host")
    }

    /// Creates an operator's login role `name` (without a password: set it with psql's `\password`).
    public static func createOperator(_ name: String) throws(RoleNameError) -> String {
        guard isValidOperatorName(name) else { throw RoleNameError(name: name) }
        return createLoginRole(name, member: "ais_operator")
    }

    /// A role that exists already is taken only when it is already the fleet's of that kind.
    private static func createLoginRole(_ role: String, member group: String) -> String {
        """
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '\(role)') THEN
            CREATE ROLE \(role) LOGIN;
          ELSIF NOT pg_has_role('\(role)', '\(group)', 'MEMBER') THEN
            RAISE EXCEPTION 'role \(role) exists and is not a member of \(group): choose another name';
          END IF;
          GRANT \(group) TO \(role);
        END $$
        """
    }

    /// Refuses a database whose schema is older than this version's: a host or an operator would fail on what it lacks,
    /// one statement at a time. A newer one is fine (its changes keep what older versions use).
    static func requireCurrentVersion(on connection: PostgresConnection, logger: Logger) async throws {
        var found: Int?
        for try await applied in try await connection.query("SELECT max(version) FROM fleet_schema", logger: logger).decode(Int?.self) {
            found = applied
        }
        guard let found, found >= version else { throw OutdatedSchema(found: found) }
    }

    public struct OutdatedSchema: Error, CustomStringConvertible {
        public let found: Int?
        public var description: String {
            "the fleet's database has schema version \(found.map(String.init) ?? "none"), this version needs \(FleetSchema.version): apply it "
                + "again as the database's owner (ai-sysadmin fleet schema | psql -v ON_ERROR_STOP=1 -d DATABASE)"
        }
    }

    public struct RoleNameError: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "'\(name.prefix(64))' is not a usable role name: lower-case letters, digits and _, at most 40, and for an operator "
                + "not beginning with ais_ or pg_"
        }
    }
}

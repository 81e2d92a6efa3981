package sqlite

// migrations are applied in order, each in its own transaction, and never
// edited once released: a schema change is a new entry at the end. The
// version of a case file is the number of migrations applied to it.
var migrations = []string{
	// 1: hosts, runs, files, findings, triage, host summaries.
	`CREATE TABLE hosts (
		id      INTEGER PRIMARY KEY,
		name    TEXT NOT NULL UNIQUE,
		created INTEGER NOT NULL
	);
	CREATE TABLE runs (
		id       INTEGER PRIMARY KEY,
		host_id  INTEGER NOT NULL REFERENCES hosts(id),
		kind     TEXT NOT NULL,
		started  INTEGER NOT NULL,
		finished INTEGER,
		status   TEXT NOT NULL,
		args     TEXT,
		ruleset  TEXT,
		stats    TEXT
	);
	CREATE INDEX runs_host ON runs(host_id, kind);
	CREATE TABLE files (
		id         INTEGER PRIMARY KEY,
		host_id    INTEGER NOT NULL REFERENCES hosts(id),
		path       BLOB NOT NULL,
		size       INTEGER NOT NULL,
		mtime      INTEGER NOT NULL,
		ctime      INTEGER NOT NULL,
		dev        INTEGER NOT NULL,
		ino        INTEGER NOT NULL,
		mode       INTEGER NOT NULL,
		sha256     TEXT NOT NULL,
		sha1       TEXT NOT NULL,
		md5        TEXT NOT NULL,
		verdict    TEXT NOT NULL,
		reason     TEXT NOT NULL,
		ruleset    TEXT NOT NULL,
		reusable   INTEGER NOT NULL,
		run_id     INTEGER NOT NULL,
		scanned_at INTEGER NOT NULL,
		UNIQUE (host_id, path)
	);
	CREATE INDEX files_verdict ON files(host_id, verdict);
	CREATE INDEX files_sha256 ON files(sha256);
	CREATE TABLE findings (
		id       INTEGER PRIMARY KEY,
		file_id  INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
		detector TEXT NOT NULL,
		rule     TEXT NOT NULL,
		verdict  TEXT NOT NULL,
		severity TEXT NOT NULL,
		reason   TEXT NOT NULL,
		member   TEXT NOT NULL,
		evidence TEXT
	);
	CREATE INDEX findings_file ON findings(file_id);
	CREATE INDEX findings_detector ON findings(detector, rule);
	CREATE TABLE triage (
		id         INTEGER PRIMARY KEY,
		host_id    INTEGER NOT NULL REFERENCES hosts(id),
		path       BLOB NOT NULL,
		size       INTEGER NOT NULL,
		mtime      INTEGER NOT NULL,
		verdict    TEXT NOT NULL,
		reason     TEXT NOT NULL,
		findings   TEXT,
		run_id     INTEGER NOT NULL,
		scanned_at INTEGER NOT NULL,
		UNIQUE (host_id, path)
	);
	CREATE TABLE host_summaries (
		host_id INTEGER NOT NULL REFERENCES hosts(id),
		kind    TEXT NOT NULL,
		data    TEXT NOT NULL,
		updated INTEGER NOT NULL,
		PRIMARY KEY (host_id, kind)
	);`,
	// 2: hunt verdicts, detections and the account x host graph.
	`CREATE TABLE hunt_hosts (
		host_id     INTEGER PRIMARY KEY REFERENCES hosts(id),
		run_id      INTEGER NOT NULL,
		accessed    INTEGER NOT NULL,
		encrypted   INTEGER NOT NULL,
		exfiltrated INTEGER NOT NULL,
		first_seen  INTEGER NOT NULL,
		last_seen   INTEGER NOT NULL,
		evidence    INTEGER NOT NULL,
		data        TEXT NOT NULL,
		updated     INTEGER NOT NULL
	);
	CREATE TABLE hunt_detections (
		id       INTEGER PRIMARY KEY,
		host_id  INTEGER NOT NULL REFERENCES hosts(id),
		run_id   INTEGER NOT NULL,
		time     INTEGER NOT NULL,
		last     INTEGER NOT NULL,
		rule_id  TEXT NOT NULL,
		engine   TEXT NOT NULL,
		title    TEXT NOT NULL,
		severity TEXT NOT NULL,
		category TEXT NOT NULL,
		account  TEXT NOT NULL,
		source   TEXT NOT NULL,
		data     TEXT NOT NULL
	);
	CREATE INDEX hunt_detections_host ON hunt_detections(host_id, time);
	CREATE TABLE hunt_logons (
		id         INTEGER PRIMARY KEY,
		host_id    INTEGER NOT NULL REFERENCES hosts(id),
		run_id     INTEGER NOT NULL,
		account    TEXT NOT NULL,
		source     TEXT NOT NULL,
		kinds      TEXT NOT NULL,
		first      INTEGER NOT NULL,
		last       INTEGER NOT NULL,
		count      INTEGER NOT NULL,
		privileged INTEGER NOT NULL,
		suspicious INTEGER NOT NULL
	);
	CREATE INDEX hunt_logons_host ON hunt_logons(host_id, first);
	CREATE INDEX hunt_logons_account ON hunt_logons(account);`,
	// 3: the migrate journal: one job per (source, destination, rule set),
	// one row per source file with its state, so that a killed migration
	// resumes without copying anything twice or leaving partial objects.
	`CREATE TABLE migrate_jobs (
		id      INTEGER PRIMARY KEY,
		source  BLOB NOT NULL,
		dest    TEXT NOT NULL,
		ruleset TEXT NOT NULL,
		created INTEGER NOT NULL,
		UNIQUE (source, dest, ruleset)
	);
	CREATE TABLE migrate_files (
		job_id      INTEGER NOT NULL REFERENCES migrate_jobs(id),
		path        BLOB NOT NULL,
		state       TEXT NOT NULL,
		temp        TEXT NOT NULL,
		dest_key    TEXT NOT NULL,
		size        INTEGER NOT NULL,
		mtime       INTEGER NOT NULL,
		ctime       INTEGER NOT NULL,
		dev         INTEGER NOT NULL,
		ino         INTEGER NOT NULL,
		mode        INTEGER NOT NULL,
		sha256      TEXT NOT NULL,
		verdict     TEXT NOT NULL,
		reason      TEXT NOT NULL,
		findings    TEXT,
		scanned_at  INTEGER NOT NULL,
		from_scan   INTEGER NOT NULL,
		verify      TEXT NOT NULL,
		verified_at INTEGER NOT NULL,
		notes       TEXT,
		attempts    INTEGER NOT NULL,
		updated     INTEGER NOT NULL,
		PRIMARY KEY (job_id, path)
	);
	CREATE INDEX migrate_files_key ON migrate_files(job_id, dest_key);
	CREATE INDEX migrate_files_state ON migrate_files(job_id, state);`,
	// 4: watch agent alerts.
	`CREATE TABLE watch_alerts (
		id       TEXT PRIMARY KEY,
		host_id  INTEGER NOT NULL REFERENCES hosts(id),
		time     INTEGER NOT NULL,
		kind     TEXT NOT NULL,
		rule     TEXT NOT NULL,
		severity TEXT NOT NULL,
		title    TEXT NOT NULL,
		summary  TEXT NOT NULL,
		data     TEXT NOT NULL
	);
	CREATE INDEX watch_alerts_host ON watch_alerts(host_id, time);`,
}

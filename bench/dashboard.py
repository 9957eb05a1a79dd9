"""Dashboard and queue queries against a million complaints in PostgreSQL: p50 and p95 of each.

    IKHTIYAR_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \
        python bench/dashboard.py --complaints 1000000

Creates a database of its own next to the one named (dropped at the end unless --keep) and
fills it inside PostgreSQL (INSERT ... SELECT over generate_series, 100,000 rows a statement,
with a progress count and the fill time): complaints across every district, department and
category over a year, a backlog that thins with age as a real one does (most old cases
closed, some left open and overdue), their lifecycle events and one message each. Then it
vacuums and analyzes (as autovacuum would) and times every query the queue, the live updates
and the department/province dashboards run, for an officer, a department head and the
province. Aim: p95 under 50 ms each. ``--keep`` then ``--reuse NAME`` times the same data
again (e.g. after adding an index: the database is migrated to the newest schema first).
The machine these figures come from is shared and loaded: compare runs made together.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from analytics import live, performance
from analytics import queue as work_queue
from gateway import runtime as rt_module
from gateway.settings import load_settings
from storage import tracking
from storage.crypto import EncryptedText
from storage.models import Category, Complaint, District, Message, User, utcnow

AIM_MS = 50.0
NEW_INDEXES = ("ix_complaints_open", "ix_complaints_created_cover", "ix_complaints_scope_created",
               "ix_complaints_due_cover", "ix_complaints_resolved_cover", "ix_complaints_closed_cover",
               "ix_complaint_events_reopened")
CHUNK = 100_000


class Staff:
    def __init__(self, uid, role, department=None, district=None):
        self.id, self.role, self.department_code, self.district_code = uid, role, department, district


def fill(rt, n: int) -> None:
    """``n`` complaints made by PostgreSQL itself (no row crosses the wire), in chunks."""
    now = utcnow()
    with rt.sessions() as s:
        # Peshawar first: the officer timed below works there.
        districts = sorted(s.scalars(select(District.code)), key=lambda code: (code != "PSW", code))
        categories = [(c.code, c.department_code, c.sla_days)
                      for c in s.scalars(select(Category).order_by(Category.code))]
    sealed = EncryptedText().process_bind_param("bench", rt.engine.dialect)
    with rt.engine.begin() as conn:
        users = []
        for dept in sorted({c[1] for c in categories}):
            users.append({"username": f"head_{dept}", "role": "department_head", "department_code": dept,
                          "password_hash": "x", "active": True, "created_at": now})
            for d in districts[:10]:
                users.append({"username": f"off_{dept}_{d}", "role": "officer", "department_code": dept,
                              "district_code": d, "password_hash": "x", "active": True, "created_at": now})
        conn.execute(insert(User), users)
        # One citizen and contact per four complaints; contact i belongs to citizen i.
        contacts = max(1, n // 4)
        conn.execute(text("INSERT INTO citizens (id, created_at) SELECT g, :now FROM generate_series(1, CAST(:m AS int)) g"),
                      {"now": now, "m": contacts})
        conn.execute(text("INSERT INTO contacts (id, citizen_id, channel, address, address_hash, simulated, "
                          "opted_out, created_at) SELECT g, g, (ARRAY['whatsapp','whatsapp','sms','voice',"
                          "'email'])[1 + g % 5], :addr, md5(g::text), false, false, :now "
                          "FROM generate_series(1, CAST(:m AS int)) g"), {"addr": sealed, "now": now, "m": contacts})
        for table in ("citizens", "contacts"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :m)"), {"m": contacts})
    params = {"now": now, "cats": [c[0] for c in categories], "depts": [c[1] for c in categories],
              "slas": [c[2] for c in categories], "districts": districts, "m": contacts, "text": sealed}
    # Age decides the state: of a week-old case 70% are open, of a month-old one 35%, older 5%.
    complaints = text("""
        INSERT INTO complaints (tracking_number, citizen_id, contact_id, channel, language, state,
            description, district_code, department_code, category_code, assigned_user_id,
            escalation_level, incomplete, confidential, simulated, due_at, created_at, updated_at,
            first_response_at, resolved_at, closed_at)
        SELECT lpad(g::text, 7, '0'), c, c, ch, 'en', st, 'bench', dist, dept, cat,
               CASE WHEN st <> 'submitted' THEN u.id END, CASE WHEN st = 'reopened' THEN 1 ELSE 0 END,
               false, false, false, created + sla * interval '1 day', created,
               coalesce(closed, first, created), first,
               CASE WHEN st IN ('resolved', 'closed') THEN first + interval '2 hours' END, closed
        FROM (
          SELECT g, c, ch, dist, cat, dept, sla, created, st,
                 CASE WHEN st <> 'submitted' THEN created + (1 + r3 * 95) * interval '1 hour' END AS first,
                 CASE WHEN st = 'closed' THEN created + (3 + r3 * 400) * interval '1 hour' END AS closed
          FROM (
            SELECT g, c, ch, dist, cat, dept, sla, created, r3,
                   CASE WHEN r2 < (CASE WHEN age < 8 THEN 0.7 WHEN age < 31 THEN 0.35 ELSE 0.05 END)
                        THEN (ARRAY['submitted','assigned','in_progress','in_progress','awaiting_info',
                                    'resolved','reopened'])[1 + floor(r3 * 7)::int]
                        WHEN r2 > 0.98 THEN 'withdrawn' ELSE 'closed' END AS st
            FROM (
              SELECT g, 1 + g % CAST(:m AS int) AS c, (ARRAY['whatsapp','whatsapp','sms','voice','email'])[1 + (g % CAST(:m AS int)) % 5] AS ch,
                     (CAST(:districts AS text[]))[1 + floor(random() * cardinality(CAST(:districts AS text[])))::int] AS dist,
                     k.i, (CAST(:cats AS text[]))[k.i] AS cat, (CAST(:depts AS text[]))[k.i] AS dept,
                     (CAST(:slas AS int[]))[k.i] AS sla, age, CAST(:now AS timestamptz) - age * interval '1 day' AS created,
                     random() AS r2, random() AS r3
              FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) g,
                   LATERAL (SELECT 1 + floor(random() * cardinality(CAST(:cats AS text[])) + g * 0)::int AS i) k,
                   LATERAL (SELECT random() * 365 + g * 0 AS age) a
            ) x
          ) y
        ) z
        LEFT JOIN users u ON u.username = 'off_' || z.dept || '_' || z.dist
        """)
    # The events a case in that state has been through, each at its time.
    events = text("""
        INSERT INTO complaint_events (complaint_id, kind, from_state, to_state, actor_kind, data, created_at)
        SELECT id, e.kind, e.from_state, e.to_state, e.actor, '{}', e.at FROM complaints,
        LATERAL (VALUES
          ('submitted', NULL, 'submitted', 'citizen', created_at, true),
          ('assign', 'submitted', 'assigned', 'officer', first_response_at, state <> 'submitted' AND state <> 'withdrawn'),
          ('resolve', 'assigned', 'resolved', 'officer', coalesce(resolved_at, first_response_at + interval '2 hours'),
                state IN ('resolved', 'closed', 'reopened')),
          ('reject_resolution', 'resolved', 'reopened', 'citizen', first_response_at + interval '1 day',
                state = 'reopened' OR (state = 'closed' AND id % 7 = 0)),
          ('resolve', 'reopened', 'resolved', 'officer', first_response_at + interval '2 days',
                state = 'closed' AND id % 7 = 0),
          ('confirm_satisfied', 'resolved', 'closed', 'citizen', closed_at, state = 'closed'),
          ('withdraw', 'submitted', 'withdrawn', 'citizen', created_at + interval '1 day', state = 'withdrawn')
        ) AS e(kind, from_state, to_state, actor, at, happened)
        WHERE e.happened AND id BETWEEN :lo AND :hi
        """)
    messages = text("""
        INSERT INTO messages (direction, channel, contact_id, complaint_id, text, payload, status,
                              attempts, created_at, updated_at)
        SELECT 'in', channel, contact_id, id, :text, '{}', 'processed', 0, created_at, created_at
        FROM complaints WHERE id BETWEEN :lo AND :hi
        """)
    for lo in range(1, n + 1, CHUNK):
        hi = min(n, lo + CHUNK - 1)
        with rt.engine.begin() as conn:
            conn.execute(text("SELECT setseed(:seed)"), {"seed": lo / (n + 1)})  # the same data each run
            # The rows are consistent by construction: skip the per-row foreign-key triggers
            # (a superuser setting; a bench database is ours).
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(complaints, {**params, "lo": lo, "hi": hi})
            first = conn.scalar(text("SELECT min(id) FROM complaints WHERE tracking_number = lpad(CAST(:lo AS text), 7, '0')"),
                                {"lo": lo})
            span = {"lo": first, "hi": first + hi - lo, "text": sealed}
            conn.execute(events, span)
            conn.execute(messages, span)
        print(f"  {hi:>9,} complaints", flush=True)
    # A real database is vacuumed: without it no index-only scan is possible on fresh rows.
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def timed(run, repeat: int) -> tuple[float, float]:
    run()  # warm the cache and the plan
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--baseline-repeat", type=int, default=5,
                        help="runs of each query without the new indexes (slow ones: keep it small)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--reuse", metavar="NAME", help="time a database kept by --keep (kept again)")
    args = parser.parse_args()
    url = os.environ.get("IKHTIYAR_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    base = make_url(load_settings(database_url=url).database_url)
    name = args.reuse or f"ikhtiyar_bench_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    if args.reuse:
        args.keep = True
    else:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    rt = None
    try:
        settings = load_settings(database_url=base.set(database=name).render_as_string(hide_password=False),
                                 data_key=base64.b64encode(b"b" * 32).decode(), var_dir=Path("/tmp/ikhtiyar-bench"),
                                 secret_key=base64.b64encode(bytes(range(7, 39))).decode())
        rt = rt_module.build(settings)
        rt_module.prepare(rt, say=lambda _m: None)
        if args.reuse:
            with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))  # new indexes get their statistics
            print(f"timing {name} again")
        else:
            print(f"filling {name} with {args.complaints:,} complaints ...", flush=True)
            t0 = time.perf_counter()
            fill(rt, args.complaints)
            print(f"filled (and vacuumed) in {time.perf_counter() - t0:.0f} s")
        report(rt, args.repeat, args.baseline_repeat)
    finally:
        if not args.keep:
            if rt is not None:
                rt.engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


def report(rt, repeat: int, baseline_repeat: int) -> None:
    with rt.sessions() as s:
        officer = s.scalars(select(User).where(User.username == "off_PHED_PSW")).one()
        head = s.scalars(select(User).where(User.username == "head_PHED")).one()
        some = s.scalars(select(Complaint).where(Complaint.department_code == "PHED",
                                                 Complaint.district_code == "PSW").limit(1)).one()
        if not tracking.is_valid(some.tracking_number):
            # The filled numbers carry no check digit; the one searched for must (else the
            # search takes it for a prefix being typed).
            some.tracking_number = tracking.new_number()
            s.commit()
        last_message = s.scalar(select(func.max(Message.id)))
        total = s.scalar(select(func.count()).select_from(Complaint))
    users = {"officer": Staff(officer.id, "officer", "PHED", "PSW"),
             "head": Staff(head.id, "department_head", "PHED"),
             "province": Staff(0, "viewer")}
    periods = {"30 days": performance.Period.last_days(30), "365 days": performance.Period.last_days(365)}
    nowhere = performance.Filters()
    measured = {}
    for baseline in (False, True):
        with rt.sessions() as s:
            if baseline:
                # The same queries without this branch's indexes: dropped inside a transaction
                # that is rolled back, so the database keeps them.
                for index in NEW_INDEXES:
                    s.execute(text(f"DROP INDEX IF EXISTS {index}"))
            for who, user in users.items():
                for name, run in checks(s, who, user, some, last_message, periods, nowhere).items():
                    measured.setdefault((who, name), {})[baseline] = timed(run, baseline_repeat if baseline else repeat)
            s.rollback()
    rows = [(who, name, *m[False], m[True][1]) for (who, name), m in measured.items()]
    width = max(len(r[1]) for r in rows)
    print(f"\n{total:,} complaints. The machine is shared and loaded (2 cores for several people): "
          "compare figures from the same run, not across runs. Baseline: the same query in the "
          "same run without the indexes of migration 0021_i15_dash.")
    print(f"{'scope':<9} {'query':<{width}} {'p50 ms':>8} {'p95 ms':>8} {'baseline p95':>13}  aim")
    for who, name, p50, p95, base in rows:
        flag = "" if p95 < AIM_MS else "  <-- over"
        print(f"{who:<9} {name:<{width}} {p50:>8.1f} {p95:>8.1f} {base:>13.1f}  < {AIM_MS:.0f}{flag}")
    worst = max(rows, key=lambda r: r[3])
    over = sum(1 for r in rows if r[3] >= AIM_MS)
    print(f"\n{len(rows)} queries; worst p95 {worst[3]:.1f} ms ({worst[0]}: {worst[1]}); "
          f"{over} over the {AIM_MS:.0f} ms aim; baseline: "
          f"{sum(1 for r in rows if r[4] >= AIM_MS)} over")


def checks(s, who: str, user, some, last_message, periods, nowhere) -> dict:
    """Every query a page of this scope runs, by name."""
    f = work_queue.QueueFilter()
    checks = {
        "queue page (open, mine first, overdue first)": lambda u=user, f=f: s.scalars(work_queue.queue_query(u, f)).all(),
        "queue page, overdue filter": lambda u=user: s.scalars(work_queue.queue_query(u, work_queue.QueueFilter(overdue=True))).all(),
        "queue page, district + category (drill-down)": lambda u=user: s.scalars(work_queue.queue_query(u, work_queue.QueueFilter(district="PSW", category="PHED_NO_WATER"))).all(),
        "queue search by tracking number": lambda u=user, n=some.tracking_number: s.scalars(work_queue.queue_query(u, work_queue.QueueFilter(status="any", search=n))).all(),
    }
    for name, query in work_queue.facet_queries(user, f).items():
        checks[f"queue counts: {name}"] = lambda q=query: s.execute(q).all()
    marks = live.Marks(last_message, utcnow() - timedelta(seconds=5))
    checks["live updates (queue), one statement a tick"] = lambda u=user, m=marks: s.execute(live.activity_query(u, m)).all()
    checks["live updates (case), one statement a tick"] = lambda u=user, m=marks: s.execute(live.activity_query(u, m, some.id)).all()
    dims = (None, "district", "category", "channel", "officer") + (("department",) if who == "province" else ())
    for dim in dims:
        checks[f"backlog now by {dim or 'total'}"] = lambda d=dim, u=user: s.execute(performance.backlog_query(u, d, nowhere)).all()
    for label, period in periods.items():
        for dim in dims:
            tag = dim or "total"
            checks[f"{label} received by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.received_query(u, p, d)).all()
            checks[f"{label} resolved by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.done_query(u, p, d, Complaint.resolved_at)).all()
            checks[f"{label} closed by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.done_query(u, p, d, Complaint.closed_at)).all()
            checks[f"{label} reopened by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.reopened_query(u, p, d)).all()
            checks[f"{label} SLA compliance by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.sla_query(u, p, d)).all()
            checks[f"{label} median first response by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.median_query(s, u, p, d, Complaint.first_response_at)).all()
            checks[f"{label} median closure by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.median_query(s, u, p, d, Complaint.closed_at)).all()
        checks[f"{label} received per day"] = lambda p=period, u=user: performance.daily_received(s, u, p)
    return checks


if __name__ == "__main__":
    sys.exit(main())

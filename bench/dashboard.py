"""Dashboard and queue queries against 100,000 complaints in PostgreSQL: p50 and p95 of each.

    IKHTIYAR_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/dashboard.py

Creates a database of its own next to the one named (dropped at the end unless --keep),
fills it with complaints and their events across every district and department, vacuums and
analyzes it (as autovacuum would a real database), and times every query the queue, the live
updates and the department/province dashboards run, for an officer, a department head and
the province. Aim: p95 under 100 ms each. ``--keep`` then ``--reuse NAME`` times the same
data again (e.g. after adding an index: the database is migrated to the newest schema first).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
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
from storage.models import (
    Category,
    Citizen,
    Complaint,
    ComplaintEvent,
    Contact,
    District,
    Message,
    User,
    utcnow,
)


class Staff:
    def __init__(self, uid, role, department=None, district=None):
        self.id, self.role, self.department_code, self.district_code = uid, role, department, district


def fill(rt, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    now = utcnow()
    with rt.sessions() as s:
        districts = list(s.scalars(select(District.code)))
        categories = [(c.code, c.department_code, c.sla_days) for c in s.scalars(select(Category))]
    with rt.engine.begin() as conn:
        users = []
        for dept in sorted({c[1] for c in categories}):
            users.append({"username": f"head_{dept}", "role": "department_head", "department_code": dept,
                          "password_hash": "x", "active": True, "created_at": now})
            for d in districts[:10]:
                users.append({"username": f"off_{dept}_{d}", "role": "officer", "department_code": dept,
                              "district_code": d, "password_hash": "x", "active": True, "created_at": now})
        conn.execute(insert(User), users)
        officer_ids = {(r.department_code, r.district_code): r.id for r in conn.execute(
            select(User.id, User.department_code, User.district_code).where(User.role == "officer"))}
    batch = 10_000
    channels = ["whatsapp"] * 5 + ["sms"] * 2 + ["voice", "email", "letter"]
    states = (["closed"] * 45 + ["resolved"] * 10 + ["in_progress"] * 15 + ["assigned"] * 10
              + ["submitted"] * 10 + ["reopened"] * 5 + ["awaiting_info"] * 5)
    used = set()
    for start in range(0, n, batch):
        size = min(batch, n - start)
        with rt.sessions() as s, s.begin():
            citizens = [Citizen() for _ in range(size)]
            s.add_all(citizens)
            s.flush()
            contacts = []
            for i, c in enumerate(citizens):
                channel = rng.choice(channels)
                contacts.append(Contact(citizen_id=c.id, channel=channel,
                                        address=f"+92300{start + i:07d}",
                                        address_hash=uuid.uuid4().hex, simulated=False))
            s.add_all(contacts)
            s.flush()
            rows, meta = [], []
            for contact in contacts:
                code, dept, sla = rng.choice(categories)
                district = rng.choice(districts)
                created = now - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
                state = rng.choice(states)
                while True:
                    number = f"{rng.randint(0, 9_999_999):07d}"
                    if number not in used:
                        used.add(number)
                        break
                first = created + timedelta(hours=rng.randint(1, 96)) if state != "submitted" else None
                closed = first + timedelta(hours=rng.randint(1, 400)) if state == "closed" else None
                rows.append({"tracking_number": number, "citizen_id": contact.citizen_id,
                             "contact_id": contact.id, "channel": contact.channel, "language": "en",
                             "state": state, "description": "bench", "district_code": district,
                             "department_code": dept, "category_code": code,
                             "assigned_user_id": officer_ids.get((dept, district)) if state != "submitted" else None,
                             "escalation_level": 1 if state == "reopened" else 0, "incomplete": False,
                             "confidential": False, "due_at": created + timedelta(days=sla),
                             "created_at": created, "updated_at": closed or first or created,
                             "first_response_at": first,
                             "resolved_at": first if state == "resolved" else None, "closed_at": closed})
                meta.append((state, created, first, closed, contact.id))
            ids = list(s.scalars(insert(Complaint).returning(Complaint.id, sort_by_parameter_order=True), rows))
            events, messages = [], []
            for cid, (state, created, first, closed, contact_id) in zip(ids, meta, strict=True):
                events.append({"complaint_id": cid, "kind": "submitted", "to_state": "submitted",
                               "actor_kind": "citizen", "data": {}, "created_at": created})
                messages.append({"direction": "in", "channel": "whatsapp", "contact_id": contact_id,
                                 "complaint_id": cid, "text": "bench", "payload": {}, "status": "processed",
                                 "attempts": 0, "created_at": created, "updated_at": created})
                if first:
                    events.append({"complaint_id": cid, "kind": "assign", "to_state": "assigned",
                                   "actor_kind": "officer", "data": {}, "created_at": first})
                    messages.append({"direction": "out", "channel": "whatsapp", "contact_id": contact_id,
                                     "complaint_id": cid, "text": "reply", "payload": {}, "status": "delivered",
                                     "attempts": 1, "created_at": first, "updated_at": first})
                if state in ("closed", "resolved", "reopened"):
                    events.append({"complaint_id": cid, "kind": "resolve", "to_state": "resolved",
                                   "actor_kind": "officer", "data": {}, "created_at": first})
                if state == "reopened" or (state == "closed" and rng.random() < 0.15):
                    events.append({"complaint_id": cid, "kind": "reject_resolution", "to_state": "reopened",
                                   "actor_kind": "citizen", "data": {}, "created_at": first})
                if state == "closed":
                    events.append({"complaint_id": cid, "kind": "confirm_satisfied", "to_state": "closed",
                                   "actor_kind": "citizen", "data": {}, "created_at": closed})
            s.execute(insert(ComplaintEvent), events)
            s.execute(insert(Message), messages)
        print(f"  {start + size:>7} complaints", flush=True)
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
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
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
    try:
        settings = load_settings(database_url=base.set(database=name).render_as_string(hide_password=False),
                                 data_key=base64.b64encode(b"b" * 32).decode(), var_dir=Path("/tmp/ikhtiyar-bench"),
                                 secret_key="bench")
        rt = rt_module.build(settings)
        rt_module.prepare(rt, say=lambda _m: None)
        if args.reuse:
            with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))  # new indexes get their statistics
            print(f"timing {name} again")
        else:
            print(f"filling {name} with {args.complaints} complaints ...", flush=True)
            t0 = time.perf_counter()
            fill(rt, args.complaints)
            print(f"filled in {time.perf_counter() - t0:.0f} s")
        report(rt, args.repeat)
    finally:
        if not args.keep:
            rt.engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


def report(rt, repeat: int) -> None:
    with rt.sessions() as s:
        officer = s.scalars(select(User).where(User.username == "off_PHED_PSW")).one()
        head = s.scalars(select(User).where(User.username == "head_PHED")).one()
        some = s.scalars(select(Complaint).where(Complaint.department_code == "PHED",
                                                 Complaint.district_code == "PSW").limit(1)).one()
        last_message = s.scalar(select(func.max(Message.id)))
    users = {"officer": Staff(officer.id, "officer", "PHED", "PSW"),
             "head": Staff(head.id, "department_head", "PHED"),
             "province": Staff(0, "viewer")}
    period30 = performance.Period.last_days(30)
    period365 = performance.Period.last_days(365)
    rows = []
    with rt.sessions() as s:
        for who, user in users.items():
            f = work_queue.QueueFilter()
            checks = {
                "queue page (open, mine first, overdue first)": lambda u=user, f=f: s.scalars(work_queue.queue_query(u, f)).all(),
                "queue page, overdue filter": lambda u=user: s.scalars(work_queue.queue_query(u, work_queue.QueueFilter(overdue=True))).all(),
                "queue search by tracking number": lambda u=user, n=some.tracking_number: s.scalars(work_queue.queue_query(u, work_queue.QueueFilter(status="any", search=n))).all(),
            }
            for name, query in work_queue.facet_queries(user, f).items():
                checks[f"queue counts: {name}"] = lambda q=query: s.execute(q).all()
            marks = live.Marks(last_message, utcnow() - timedelta(seconds=5))
            checks["live updates (queue), one statement a tick"] = lambda u=user, m=marks: s.execute(live.activity_query(u, m)).all()
            checks["live updates (case), one statement a tick"] = lambda u=user, m=marks: s.execute(live.activity_query(u, m, some.id)).all()
            for label, period in (("30 days", period30), ("365 days", period365)):
                for dim in (None, "district", "category", "channel", "officer", "department"):
                    tag = dim or "total"
                    checks[f"dashboard {label} counts by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.counts_query(u, p, d)).all()
                    checks[f"dashboard {label} answers by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.answers_query(u, p, d)).all()
                    checks[f"dashboard {label} median first response by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.median_query(s, u, p, d, Complaint.first_response_at)).all()
                    checks[f"dashboard {label} median closure by {tag}"] = lambda d=dim, p=period, u=user: s.execute(performance.median_query(s, u, p, d, Complaint.closed_at)).all()
                checks[f"dashboard {label} received per day"] = lambda p=period, u=user: performance.daily_received(s, u, p)
            for name, run in checks.items():
                p50, p95 = timed(run, repeat)
                rows.append((who, name, p50, p95))
    width = max(len(r[1]) for r in rows)
    print(f"\n{'scope':<9} {'query':<{width}} {'p50 ms':>8} {'p95 ms':>8}")
    for who, name, p50, p95 in rows:
        flag = "" if p95 < 100 else "  <-- over 100 ms"
        print(f"{who:<9} {name:<{width}} {p50:>8.1f} {p95:>8.1f}{flag}")
    worst = max(rows, key=lambda r: r[3])
    over = sum(1 for r in rows if r[3] >= 100)
    print(f"\n{len(rows)} queries; worst p95 {worst[3]:.1f} ms ({worst[0]}: {worst[1]}); "
          f"{over} over the 100 ms aim")


if __name__ == "__main__":
    sys.exit(main())

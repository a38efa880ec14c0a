"""A GBFS free-floating fleet simulator with known truth: trips, operator moves and the snapshots they produce.

Reusable for trip inference (tests/test_gbfs_trips.py) and for demand baselines (multi-week
histories with known hour-of-week profiles and weather factors).

Model, minute by minute from ``start`` (aware UTC) for ``hours`` hours:

- The area is a square of ``area_cells`` x ``area_cells`` grid cells of ``cell_size_m`` metres
  (the dbt var ``gbfs_cell_size_m``) south-west-anchored at the cell holding ``(lat, lon)``; cells
  are numbered ``(row, col)`` as dbt numbers them (``floor(lat * 111320 / size)``,
  ``floor(lon * 111320 * cos(radians(ref_lat)) / size)``, ``ref_lat`` the city's latitude).
- Demand: ``demand(cell, hour_of_week) -> trips per hour`` wanted in a cell (``hour_of_week`` 0 =
  Monday 00:00-01:00 UTC), times ``weather(hour_start_utc) -> factor`` (1.0 = dry; rain < 1).
  Each minute a cell's wanted trips are Poisson; a trip takes the nearest available vehicle in
  the cell with fuel above ``min_ride_fuel``, or is lost (counted in ``Truth.lost``). It lasts
  ``trip_minutes`` (uniform), ends at a random point of a random cell (weights: ``demand``), and
  uses ``fuel_per_minute`` of the battery.
- Operator: ``batch_size`` vehicles start in the depot; 17 minutes in, then every
  ``rebalance_every_h`` hours, a van takes back the previous batch's vehicles still parked
  untouched where it left them (a batch removal) and drops the depot's vehicles, fully charged,
  at one spot of the most wanted cell (a batch deployment), all at once; a parked vehicle whose
  fuel is below ``charge_below`` is collected (chance ``charge_pickup_per_min`` a minute) and
  comes back fully charged ``charge_minutes`` later somewhere random.
- Snapshots every ``interval_min`` minutes: GBFS 2.3 ``free_bike_status`` documents of the
  parked vehicles (riding or collected ones are not published), with ``vehicle_type_id`` and
  ``current_fuel_percent``; positions jitter by up to ``gps_jitter_m``.
- Id policy: ``static`` (a vehicle keeps its id), ``resetting`` (a new id after each trip or
  operator move, taken from a pool of ids released before: ids come back), ``dynamic`` (a new,
  never used id after each trip or move: GBFS 2.x privacy rotation) or ``rotating`` (a new id
  in every snapshot, for every vehicle).

:class:`StationSimulator` does the same for a docked (station-based) system: rentals, returns and
rebalancing vans at stations, published as ``station_status`` (tests/test_gbfs_docked.py).

Truth: every trip (start/end time and place, recorded when it starts) and operator move;
:meth:`Simulator.observed` gives trip starts and ends per ``(cell_row, cell_col, hour)`` the way
the snapshots can show them (the hour of the first snapshot after the event). Deterministic for
a given ``seed``. Ids of the published documents are ``bike_id`` (GBFS 2.3, ``free_bike_status``).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

M_PER_DEG = 111320
POLICIES = ("static", "resetting", "dynamic", "rotating")


@dataclass
class Vehicle:
    key: int
    vehicle_id: str
    lat: float
    lon: float
    fuel: float
    busy_until: datetime | None = None  # riding or collected: not published
    trip: dict | None = None


@dataclass
class Truth:
    """What happened: trips ``{vehicle_id, start_at, start_lat, start_lon, end_at, end_lat, end_lon}`` (the id
    published before the trip), operator moves."""

    trips: list[dict] = field(default_factory=list)
    deployed: list[dict] = field(default_factory=list)  # {at, lat, lon, kind: batch|charged}
    removed: list[dict] = field(default_factory=list)  # {at, lat, lon, kind: batch|charge}
    lost: int = 0


@dataclass
class Snapshot:
    """One published document and when it was true (aware UTC)."""

    at: datetime
    payload: dict


class Grid:
    """The dbt grid: cell of a point, point of a cell."""

    def __init__(self, ref_lat: float, size_m: float):
        self.ref_lat, self.size = ref_lat, size_m
        self.cos = math.cos(math.radians(ref_lat))

    def cell(self, lat: float, lon: float) -> tuple[int, int]:
        return (math.floor(lat * M_PER_DEG / self.size), math.floor(lon * M_PER_DEG * self.cos / self.size))

    def point(self, row: int, col: int, rng: random.Random) -> tuple[float, float]:
        lat = (row + 0.05 + 0.9 * rng.random()) * self.size / M_PER_DEG
        lon = (col + 0.05 + 0.9 * rng.random()) * self.size / (M_PER_DEG * self.cos)
        return lat, lon


def hour_start(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass
class Simulator:
    """Parameters of one system's simulation (see the module docstring); :meth:`run` plays it."""

    policy: str = "static"
    lat: float = 52.5244  # Berlin's centre (tracked_cities.csv): its grid
    lon: float = 13.4105
    ref_lat: float = 52.5244
    cell_size_m: float = 250
    area_cells: int = 8
    vehicles: int = 160
    start: datetime = datetime(2024, 6, 3, 6, tzinfo=UTC)  # a Monday
    hours: int = 4
    interval_min: int = 5
    demand: Callable[[tuple[int, int], int], float] | None = None
    weather: Callable[[datetime], float] = staticmethod(lambda hour: 1.0)
    trip_minutes: tuple[int, int] = (6, 20)
    fuel_per_minute: float = 0.005
    min_ride_fuel: float = 0.15
    charge_below: float = 0.1
    charge_minutes: int = 90
    charge_pickup_per_min: float = 0.03
    rebalance_every_h: float = 1.0
    batch_size: int = 6
    gps_jitter_m: float = 2.0
    seed: int = 7
    FAR = datetime(9999, 1, 1, tzinfo=UTC)  # busy_until of vehicles in the depot

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ValueError(f"policy should be one of {', '.join(POLICIES)}, got {self.policy!r}")
        self.grid = Grid(self.ref_lat, self.cell_size_m)
        row0, col0 = self.grid.cell(self.lat, self.lon)
        half = self.area_cells // 2
        self.cells = [(r, c) for r in range(row0 - half, row0 + half) for c in range(col0 - half, col0 + half)]
        if self.demand is None:
            # busy centre, quiet edges, a morning peak
            def default(cell, how, r0=row0, c0=col0):
                distance = math.hypot(cell[0] - r0, cell[1] - c0)
                return 3.0 * math.exp(-distance / 2.5) * (1.5 if how % 24 in (7, 8, 17, 18) else 1.0)

            self.demand = default

    # ids ----------------------------------------------------------------------------
    def _new_id(self, old: str | None) -> str:
        if self.policy == "static" and old is not None:
            return old
        if self.policy == "resetting":
            if old is not None:
                self._pool.append(old)
            # reuse a released id once a few are waiting, so ids come back (resetting)
            if len(self._pool) > 3:
                return self._pool.pop(0)
            self._next += 1
            return f"r{self._next}"
        self._next += 1
        return f"{self.policy[0]}{self._next:06d}{self.rng.randrange(16**6):06x}"

    def _jitter(self, lat: float, lon: float) -> tuple[float, float]:
        j = self.gps_jitter_m / M_PER_DEG
        return lat + self.rng.uniform(-j, j), lon + self.rng.uniform(-j, j) / self.grid.cos

    # the run --------------------------------------------------------------------------
    def run(self) -> tuple[list[Snapshot], Truth]:
        """Play the simulation: the snapshots published (in time order) and the truth."""
        self.rng = random.Random(self.seed)
        self._pool: list[str] = []
        self._next = 0
        rng, truth, snapshots = self.rng, Truth(), []
        weights = [self.demand(c, 0) + 0.05 for c in self.cells]
        fleet = []
        for k in range(self.vehicles):
            lat, lon = self.grid.point(*rng.choices(self.cells, weights)[0], rng)
            fleet.append(Vehicle(k, self._new_id(None), lat, lon, rng.uniform(0.3, 1.0)))
        for v in fleet[: self.batch_size]:  # in the operator's depot: deployed by the first batch
            v.busy_until = self.FAR
        self._last_drop = ((None, None), [])
        end = self.start + timedelta(hours=self.hours)
        now = self.start
        next_batch = self.start + timedelta(minutes=17)
        while now < end:
            self._finish(fleet, now, truth)
            if now >= next_batch:
                self._rebalance(fleet, now, truth)
                next_batch += timedelta(hours=self.rebalance_every_h)
            self._ride(fleet, now, truth)
            self._charge(fleet, now, truth)
            if (now - self.start).total_seconds() % (self.interval_min * 60) == 0:
                snapshots.append(self._snapshot(fleet, now))
            now += timedelta(minutes=1)
        return snapshots, truth

    def observed(self, snapshots: list[Snapshot], truth: Truth) -> tuple[Counter, Counter]:
        """Trip starts and ends per ``(cell_row, cell_col, hour)`` (naive UTC hour of the first snapshot
        at or after the event, as dbt attributes a change to its pair's later snapshot); events after
        the last snapshot are not counted."""
        last = snapshots[-1].at
        step = self.interval_min * 60

        def seen(at: datetime) -> datetime:
            return self.start + timedelta(seconds=step * -(-(at - self.start).total_seconds() // step))

        starts, ends = Counter(), Counter()
        for trip in truth.trips:
            for counter, at, lat, lon in (
                (starts, trip["start_at"], trip["start_lat"], trip["start_lon"]),
                (ends, trip["end_at"], trip["end_lat"], trip["end_lon"]),
            ):
                when = seen(at)
                if self.start < when <= last:
                    counter[(*self.grid.cell(lat, lon), hour_start(when).replace(tzinfo=None))] += 1
        return starts, ends

    def visible_starts(self, snapshots: list[Snapshot], truth: Truth, min_move_m: float = 100) -> Counter:
        """Trip starts the snapshots can show, per ``(cell_row, cell_col, hour)`` as :meth:`observed` counts them.

        A start is visible when the last snapshot before it published the vehicle parked where the trip
        starts (within ``gps_jitter_m`` twice over) and the first snapshot at or after it does not publish
        that id within ``min_move_m`` (dbt var ``gbfs_trip_min_move_m``) of there. Trips that are not:
        a ride taken from a vehicle that arrived (or came back) after the last snapshot (chained rides,
        never published parked between them), and a hop shorter than ``min_move_m`` between two
        snapshots. Meaningful for id policies that keep an id while parked (not ``rotating``).
        """
        step = self.interval_min * 60
        seen = [{b["bike_id"]: (b["lat"], b["lon"]) for b in s.payload["data"]["bikes"]} for s in snapshots]

        def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
            return math.hypot((a[0] - b[0]) * M_PER_DEG, (a[1] - b[1]) * M_PER_DEG * self.grid.cos)

        near = 2 * self.gps_jitter_m * math.sqrt(2) + 1
        starts = Counter()
        for trip in truth.trips:
            # snapshot k is taken after the rides of its minute started: the one before is k = ceil(t) - 1
            after = int(-(-(trip["start_at"] - self.start).total_seconds() // step))
            if after < 1 or after >= len(snapshots):
                continue
            place = (trip["start_lat"], trip["start_lon"])
            before_at = seen[after - 1].get(trip["vehicle_id"])
            after_at = seen[after].get(trip["vehicle_id"])
            if before_at is None or metres(before_at, place) > near:
                continue  # never published parked where it started
            if after_at is not None and metres(after_at, place) < min_move_m:
                continue  # back (or still) near where it started: a hop the snapshots cannot tell
            key = (*self.grid.cell(*place), hour_start(snapshots[after].at).replace(tzinfo=None))
            starts[key] += 1
        return starts

    def _parked(self, fleet):
        return [v for v in fleet if v.busy_until is None]

    def _finish(self, fleet, now, truth):
        for v in fleet:
            if v.busy_until is not None and v.busy_until <= now:
                if v.trip is not None:  # a ride ends where it was going
                    v.lat, v.lon = v.trip["end_lat"], v.trip["end_lon"]
                    pass  # in truth.trips since it started
                else:  # back from charging
                    v.lat, v.lon = self.grid.point(*self.rng.choice(self.cells), self.rng)
                    v.fuel = 1.0
                    truth.deployed.append({"at": now, "lat": v.lat, "lon": v.lon, "kind": "charged"})
                v.busy_until, v.trip = None, None
                v.vehicle_id = self._new_id(v.vehicle_id)

    def _ride(self, fleet, now, truth):
        how = now.weekday() * 24 + now.hour
        factor = self.weather(hour_start(now))
        by_cell: dict[tuple[int, int], list[Vehicle]] = {}
        for v in self._parked(fleet):
            if v.fuel > self.min_ride_fuel:
                by_cell.setdefault(self.grid.cell(v.lat, v.lon), []).append(v)
        dest_weights = [self.demand(c, how) + 0.05 for c in self.cells]
        for cell in self.cells:
            wanted = _poisson(self.rng, self.demand(cell, how) * factor / 60)
            for _ in range(wanted):
                available = by_cell.get(cell) or []
                if not available:
                    truth.lost += 1
                    continue
                v = available.pop(self.rng.randrange(len(available)))
                minutes = self.rng.randint(*self.trip_minutes)
                end_lat, end_lon = self.grid.point(*self.rng.choices(self.cells, dest_weights)[0], self.rng)
                v.trip = {
                    "vehicle_id": v.vehicle_id,  # as published before the trip
                    "start_at": now,
                    "start_lat": v.lat,
                    "start_lon": v.lon,
                    "end_at": now + timedelta(minutes=minutes),
                    "end_lat": end_lat,
                    "end_lon": end_lon,
                }
                truth.trips.append(v.trip)  # from its start: rides still going at the end count as started
                v.fuel = max(v.fuel - minutes * self.fuel_per_minute, 0.0)
                v.busy_until = v.trip["end_at"]

    def _charge(self, fleet, now, truth):
        for v in self._parked(fleet):
            # collected some time after it ran low (a few snapshots publish it first)
            if v.fuel < self.charge_below and self.rng.random() < self.charge_pickup_per_min:
                truth.removed.append({"at": now, "lat": v.lat, "lon": v.lon, "kind": "charge"})
                v.busy_until, v.trip = now + timedelta(minutes=self.charge_minutes), None

    def _rebalance(self, fleet, now, truth):
        how = now.weekday() * 24 + now.hour
        # removal: the last batch's vehicles still parked where the van left them (not ridden)
        spot, dropped = self._last_drop
        unused = [v for v in dropped if v.busy_until is None and (v.lat, v.lon) == spot]
        for v in unused:
            truth.removed.append({"at": now, "lat": v.lat, "lon": v.lon, "kind": "batch"})
            v.busy_until, v.trip = self.FAR, None
        # deployment: the depot's vehicles dropped at once at one spot of the most wanted cell
        wanted = max(self.cells, key=lambda c: self.demand(c, how))
        spot = self.grid.point(*wanted, self.rng)
        batch = [v for v in fleet if v.busy_until == self.FAR and v not in unused]
        for v in batch:
            v.lat, v.lon = spot
            v.fuel, v.busy_until = 1.0, None
            v.vehicle_id = self._new_id(v.vehicle_id)
            truth.deployed.append({"at": now, "lat": v.lat, "lon": v.lon, "kind": "batch"})
        self._last_drop = (spot, batch)

    def _snapshot(self, fleet, now) -> Snapshot:
        bikes = []
        for v in self._parked(fleet):
            if self.policy == "rotating":
                v.vehicle_id = self._new_id(v.vehicle_id)
            lat, lon = self._jitter(v.lat, v.lon)
            bikes.append(
                {
                    "bike_id": v.vehicle_id,
                    "lat": round(lat, 6),
                    "lon": round(lon, 6),
                    "is_reserved": False,
                    "is_disabled": False,
                    "vehicle_type_id": "scooter",
                    "current_fuel_percent": round(v.fuel, 3),
                    "current_range_meters": round(v.fuel * 40000),
                }
            )
        self.rng.shuffle(bikes)
        payload = {
            "last_updated": int(now.timestamp()),
            "ttl": 60,
            "version": "2.3",
            "data": {"bikes": bikes},
        }
        return Snapshot(now, payload)


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


VEHICLE_TYPES = {
    "last_updated": 0,
    "ttl": 3600,
    "version": "2.3",
    "data": {
        "vehicle_types": [
            {"vehicle_type_id": "scooter", "form_factor": "scooter_standing", "propulsion_type": "electric"}
        ]
    },
}


@dataclass
class StationSimulator:
    """A docked (station-based) bike-share system with known truth, for the station_status inference.

    ``stations`` stations of ``capacity`` docks on a square lattice ``spacing_m`` apart from ``(lat, lon)``,
    each starting with ``capacity // 2`` bikes. Minute by minute for ``hours`` hours from ``start`` (aware
    UTC): at each station, Poisson(``trips_per_station_hour`` / 60) riders rent a bike (lost when the
    station is empty); a ride lasts ``trip_minutes`` (uniform) and returns to a random station with a free
    dock. Every ``rebalance_every_min`` minutes a van takes ``van_bikes`` bikes from the fullest station
    and puts them into the emptiest one (both at once: a removal and a deployment). Snapshots every
    ``interval_min`` minutes: GBFS 2.2 ``station_status`` (``num_bikes_available``, 0/1 flags), and one
    ``station_information`` with the stations' positions and capacity.

    :meth:`run` returns ``(station_information, snapshots, truth)``; ``truth`` counts, between the first
    and the last snapshot, ``trips_started`` / ``trips_ended`` (rentals / returns) and
    ``vehicles_removed`` / ``vehicles_deployed`` (the vans' bikes). Deterministic for a given ``seed``.
    """

    seed: int = 1
    start: datetime = datetime(2024, 6, 3, 6, 0, tzinfo=UTC)
    hours: int = 3
    lat: float = 52.5200
    lon: float = 13.4050
    stations: int = 60
    capacity: int = 24
    spacing_m: float = 300
    trips_per_station_hour: float = 1.0
    trip_minutes: tuple[int, int] = (6, 25)
    rebalance_every_min: int = 40
    van_bikes: int = 8
    interval_min: int = 5

    def run(self) -> tuple[dict, list[Snapshot], Counter]:
        rng = random.Random(self.seed)
        side = math.ceil(math.sqrt(self.stations))
        step_lat = self.spacing_m / M_PER_DEG
        step_lon = self.spacing_m / (M_PER_DEG * math.cos(math.radians(self.lat)))
        places = [(self.lat + (i // side) * step_lat, self.lon + (i % side) * step_lon) for i in range(self.stations)]
        bikes = [self.capacity // 2] * self.stations
        riding: list[tuple[datetime, int]] = []  # (return at, from station)
        truth: Counter = Counter()
        snapshots: list[Snapshot] = []
        minutes = self.hours * 60
        for minute in range(minutes + 1):
            now = self.start + timedelta(minutes=minute)
            counted = 0 < minute  # events after the first snapshot (taken at minute 0, before any event)
            for ride in [r for r in riding if r[0] <= now]:
                riding.remove(ride)
                free = [i for i in range(self.stations) if bikes[i] < self.capacity]
                bikes[rng.choice(free)] += 1
                truth["trips_ended"] += counted
            for i in range(self.stations):
                for _ in range(_poisson(rng, self.trips_per_station_hour / 60)):
                    if bikes[i] == 0:
                        continue
                    bikes[i] -= 1
                    riding.append((now + timedelta(minutes=rng.randint(*self.trip_minutes)), i))
                    truth["trips_started"] += counted
            if minute and minute % self.rebalance_every_min == 0:
                full = max(range(self.stations), key=lambda i: bikes[i])
                empty = min(range(self.stations), key=lambda i: bikes[i])
                moved = min(self.van_bikes, bikes[full], self.capacity - bikes[empty])
                bikes[full] -= moved
                bikes[empty] += moved
                truth["vehicles_removed"] += moved
                truth["vehicles_deployed"] += moved
            if minute % self.interval_min == 0:
                stations = [
                    {
                        "station_id": f"st{i}",
                        "is_installed": 1,
                        "is_renting": 1,
                        "is_returning": 1,
                        "last_reported": int(now.timestamp()),
                        "num_bikes_available": bikes[i],
                        "num_docks_available": self.capacity - bikes[i],
                    }
                    for i in range(self.stations)
                ]
                payload = {
                    "last_updated": int(now.timestamp()),
                    "ttl": 60,
                    "version": "2.2",
                    "data": {"stations": stations},
                }
                snapshots.append(Snapshot(now, payload))
        info = {
            "last_updated": int(self.start.timestamp()),
            "ttl": 3600,
            "version": "2.2",
            "data": {
                "stations": [
                    {"station_id": f"st{i}", "name": f"Station {i}", "lat": lat, "lon": lon, "capacity": self.capacity}
                    for i, (lat, lon) in enumerate(places)
                ]
            },
        }
        return info, snapshots, truth

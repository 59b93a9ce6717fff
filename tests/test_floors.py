"""No arrow climbs a floor: every import in kopilka/ goes down the floors of docs/architecture.md.

The test reads the source, not the running program: every `import` and `from … import` with
the AST, at module level and inside functions (a lazy import is still a dependency), and the
model fields that name another app's model by string (`ForeignKey("processing.Purchase")`),
which are dependencies too: they make migrations depend on that app. Each module belongs to
an app and each app to a floor:

    top          web, api, cli (and the project's own wiring: settings, urls, wsgi, celery, demo)
    features     campaigns, rewards, referrals, feedback, analytics, billing, automation
    processing   processing
    services     programs, ledger, messaging, webhooks, codes
    members      members
    tenancy      tenancy
    core         core
    package      the `kopilka` package itself (its version)

An app may import its own modules and any app on a lower floor. Importing an app on a higher
floor is refused; so is importing another app on the same floor, unless the pair is written
in SIDEWAYS below with the reason. A failure names file:line and the arrow.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import kopilka

ROOT = Path(kopilka.__file__).parent
FLOORS = [
    ("package", {"kopilka"}),
    ("core", {"core"}),
    ("tenancy", {"tenancy"}),
    ("members", {"members"}),
    ("services", {"programs", "ledger", "messaging", "webhooks", "codes"}),
    ("processing", {"processing"}),
    ("features", {"campaigns", "rewards", "referrals", "feedback", "analytics", "billing",
                  "automation"}),
    ("top", {"web", "api", "cli", "settings", "urls", "wsgi", "celery", "demo"}),
]
FLOOR = {app: level for level, (_name, apps) in enumerate(FLOORS) for app in apps}
FLOOR_NAME = {app: name for name, apps in FLOORS for app in apps}

# Same-floor arrows that are allowed, (from, to), with the reason. Anything else sideways fails.
SIDEWAYS = {
    # A message writes points in the program's own currency names and reads its settings.
    ("messaging", "programs"),
    # A one-time code is sent as a message (SMS) through the outbox.
    ("codes", "messaging"),
    # The project's wiring on the top floor: the command line creates the demo and reads the
    # version; the root URLconf mounts the API; Celery's app runs the tick.
    ("cli", "demo"),
    ("urls", "api"),
    # Billing registers its daily charge with the tick (automation/tick.py `register`).
    ("billing", "automation"),
    # Review requests due are sent by the tick: feedback registers its sweep with it.
    ("feedback", "automation"),
    # Campaigns registers the targeted offers' safety net with the tick.
    ("campaigns", "automation"),
    # Analytics figures 12-15 count reviews with feedback's query (quality.figures).
    ("analytics", "feedback"),
}

# Upward arrows kept on purpose, (from module, imported module): the reason, for the record.
EXCEPTIONS = {
    ("kopilka.core.models", "kopilka.tenancy.models"):
        "AuditEntry.merchant: the audit log is a core service, and its rows are tenant rows, "
        "scoped by merchant like every other (a schema reference, no Python import)",
}

# Upward arrows that other parts of issue #12 are removing: the lead empties this list after
# merging them. (from module, imported module) pairs.
KNOWN = {
    # Consent.one_time_code: members names a model of a higher app. #12 part 5 ("tenancy and
    # members name no relations of higher apps"), done by another helper: drop the foreign
    # key (keep the code's id as evidence) or move it, then delete this line.
    ("kopilka.members.models", "kopilka.codes.models"),
}

# The engine evaluates a program without a database (DESIGN.md, "Floors"): nothing it reaches,
# directly or through other kopilka modules, may be a models module or django.db.
PURE = "kopilka.programs.engine"


@dataclass(frozen=True)
class Arrow:
    source: str  # the importing module, dotted
    target: str  # the imported module (or "app.Model" for a model reference), dotted
    path: Path
    line: int

    def where(self) -> str:
        path = self.path.relative_to(ROOT.parent) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _absolute(source: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _model_reference(node: ast.Call) -> str | None:
    """"app.Model" when `node` is a relation field naming a model by string."""
    name = getattr(node.func, "attr", getattr(node.func, "id", ""))
    if name not in ("ForeignKey", "OneToOneField", "ManyToManyField") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and "." in first.value:
        return first.value
    return None


def arrows(path: Path, source: str = "") -> list[Arrow]:
    """The kopilka imports of one file; `source` names it when it is not under kopilka/."""
    source = source or module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(source, path, node)
            # `from kopilka.x import y` may import the submodule y: count the deepest name
            # that is a module, so the allow-lists can be precise.
            targets = [f"{module}.{alias.name}"
                       if (ROOT.parent / f"{module}.{alias.name}".replace(".", "/")).exists()
                       or (ROOT.parent / (f"{module}.{alias.name}".replace(".", "/") + ".py"))
                       .exists() else module for alias in node.names]
        elif isinstance(node, ast.Call) and (reference := _model_reference(node)):
            targets = [f"kopilka.{reference.split('.')[0]}.models"]
        else:
            continue
        found += [Arrow(source, target, path, node.lineno)
                  for target in dict.fromkeys(targets)
                  if target == "kopilka" or target.startswith("kopilka.")]
    return found


def all_arrows() -> list[Arrow]:
    return [arrow for path in sorted(ROOT.rglob("*.py")) for arrow in arrows(path)]


def verdict(arrow: Arrow) -> str | None:
    """Why the arrow is refused, or None."""
    source, target = app_of(arrow.source), app_of(arrow.target)
    if source == target or (arrow.source, arrow.target) in KNOWN | EXCEPTIONS.keys():
        return None
    for app in (source, target):
        if app not in FLOOR:
            return f"{app} is on no floor: add it to FLOORS in tests/test_floors.py"
    if FLOOR[target] > FLOOR[source]:
        return (f"{source} ({FLOOR_NAME[source]}) imports {target} "
                f"({FLOOR_NAME[target]}), a higher floor")
    if FLOOR[target] == FLOOR[source] and (source, target) not in SIDEWAYS:
        return (f"{source} imports {target} on its own floor ({FLOOR_NAME[source]}) and "
                "the pair is not in SIDEWAYS")
    return None


def test_no_import_climbs_a_floor():
    refused = [f"{arrow.where()}: {arrow.source} -> {arrow.target}: {why}"
               for arrow in all_arrows() if (why := verdict(arrow))]
    assert not refused, "Imports against the floors (docs/architecture.md):\n" + "\n".join(
        refused)


def test_every_exception_is_still_needed():
    """An entry of KNOWN, EXCEPTIONS or SIDEWAYS that matches nothing any more is stale:
    delete it, so the lists say only what is true."""
    found = all_arrows()
    present = {(arrow.source, arrow.target) for arrow in found}
    assert sorted((KNOWN | EXCEPTIONS.keys()) - present) == []
    assert sorted(SIDEWAYS - {(app_of(a.source), app_of(a.target)) for a in found}) == []


def test_the_engine_reaches_no_database():
    graph: dict[str, set[str]] = {}
    for arrow in all_arrows():
        graph.setdefault(arrow.source, set()).add(arrow.target)
    seen, todo = set(), [PURE]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo += sorted(graph.get(module, ()))
    assert sorted(m for m in seen if m.endswith(".models") or m.split(".")[-1] == "db") == []
    engine = ROOT / "programs" / "engine.py"
    imported = {node.module for node in ast.walk(ast.parse(engine.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert not {m for m in imported if m.startswith("django")}


def test_the_checker_sees_lazy_imports_and_model_strings(tmp_path):
    """The rules themselves: an import inside a function and a string model reference count,
    relative imports resolve, and a sideways pair not written down is refused."""
    probe = tmp_path / "probe.py"  # checked as if it were kopilka/ledger/probe.py
    probe.write_text(
        "from django.db import models\n"
        "from . import chain\n"
        "def later():\n"
        "    from kopilka.processing import services\n"
        "class Thing(models.Model):\n"
        "    purchase = models.ForeignKey('processing.Purchase', on_delete=models.PROTECT)\n"
        "    other = models.ForeignKey('messaging.Message', on_delete=models.PROTECT)\n"
    )
    found = [(arrow.target, arrow.line, verdict(arrow))
             for arrow in arrows(probe, "kopilka.ledger.probe")]
    assert found == [
        ("kopilka.ledger.chain", 2, None),
        ("kopilka.processing.services", 4,
         "ledger (services) imports processing (processing), a higher floor"),
        ("kopilka.processing.models", 6,
         "ledger (services) imports processing (processing), a higher floor"),
        ("kopilka.messaging.models", 7,
         "ledger imports messaging on its own floor (services) and the pair is not in SIDEWAYS"),
    ]


def test_no_migration_depends_on_a_higher_floor():
    """Migrations follow the floors too: ledger 0002 once waited for processing 0001, which
    waits for ledger 0001 — a cycle between the apps that `Lot.purchase` made."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    # A foreign key allowed upward (EXCEPTIONS, KNOWN) brings its migration dependency along.
    allowed = {(app_of(source), app_of(target)) for source, target in KNOWN | EXCEPTIONS.keys()}
    refused = []
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        if app not in FLOOR:
            continue
        for dependency_app, dependency in migration.dependencies:
            if dependency_app in FLOOR and dependency_app != app and FLOOR[dependency_app] > \
                    FLOOR[app] and (app, dependency_app) not in allowed:
                refused.append(f"{app}.{name} depends on {dependency_app}.{dependency}")
    assert refused == []


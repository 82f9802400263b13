"""Plugin manager: loads the `recaug` entry points one by one and collects what they provide.

A plugin that fails to import or to register is recorded with its error (``recaug plugins``
shows it) and the rest keep working, unless ``RECAUG_STRICT_PLUGINS=1``. A function marked
``@hookimpl`` whose name is no recaug hook (a misspelt ``register_strategy``) would never be
called: it is reported as an unknown hook, and refused in strict mode. Environment:

- ``RECAUG_LOAD_PLUGINS=a,b``: load only these entry points (an allow list).
- ``RECAUG_DISABLE_PLUGINS=a,b``: never load these.
- ``RECAUG_STRICT_PLUGINS=1``: any plugin failure stops the program.

Plugin code runs under the rules of ``sandbox``: what it prints goes to stderr, ``sys.exit``
in it is its failure (at import: the plugin is reported broken), a slow import or hook is named.
A plugin may replace a built-in command, but never silently: the replacement is announced on
stderr and listed by ``recaug plugins``. ``call_plugin`` runs a component's method under the
same rules and turns its exceptions into a ``PluginFailure`` naming the component and plugin.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import traceback
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from recaug_core import hookspecs
from recaug_core.errors import (
    PluginError,
    PluginFailure,
    RecaugError,
    shown,
    unknown_name_message,
)
from recaug_core.kinds import KINDS
from recaug_core.sandbox import exit_description, plugin_code, slow_notice

if TYPE_CHECKING:
    from recaug_core.api import Component

ENTRY_POINT_GROUP = "recaug"
BUNDLED_DISTRIBUTION = "recaug"  # the plugins that ship with recaug itself


@dataclass
class PluginInfo:
    name: str
    version: str | None = None
    distribution: str | None = None
    hooks: list[str] = field(default_factory=list)
    provides: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    unknown_hooks: list[str] = field(default_factory=list)  # @hookimpl names no hook has
    overrides: list[str] = field(default_factory=list)  # what it replaced, e.g. "command 'data'"

    @property
    def bundled(self) -> bool:
        return self.distribution == BUNDLED_DISTRIBUTION

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": self.hooks,
            "unknown_hooks": self.unknown_hooks,
            "provides": self.provides,
            "overrides": self.overrides,
            "error": self.error,
        }


@dataclass(frozen=True)
class Registration:
    cls: type[Component]
    plugin: str


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def strict_mode() -> bool:
    return os.environ.get("RECAUG_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes"}


class PluginRegistry:
    """A typed wrapper around pluggy's PluginManager for recaug's hooks."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._components: dict[str, dict[str, Registration]] | None = None
        self._conflicts: dict[tuple[str, str], list[str]] = {}

    # -- loading ---------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        allow = _env_list("RECAUG_LOAD_PLUGINS")
        deny = _env_list("RECAUG_DISABLE_PLUGINS") or set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in deny or (allow is not None and ep.name not in allow):
                continue
            if ep.name in self.infos:
                continue  # the same distribution seen twice on sys.path
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                version=dist.version if dist else None,
                distribution=dist.metadata["Name"] if dist else None,
            )
            self.infos[ep.name] = info
            try:
                with self._plugin_code(ep.name, "loading"):
                    module = ep.load()
                self.pm.register(module, name=ep.name)
            except SystemExit as exc:  # an import that exits must not end recaug
                self._fail(info, f"failed to load ({ep.value}): {exit_description(exc)}", exc)
                continue
            except Exception as exc:  # a broken plugin must not stop the CLI
                self._fail(info, f"failed to load ({ep.value}): {_one_line(exc)}", exc)
                continue
            self._check_hooks(info)

    @staticmethod
    @contextlib.contextmanager
    def _plugin_code(plugin: str, doing: str) -> Iterator[None]:
        """Plugin code at load time: its prints go to stderr, and a slow one is named."""
        hint = f"RECAUG_DISABLE_PLUGINS={plugin} skips it"
        with plugin_code(), slow_notice(f"{doing} plugin '{plugin}'", hint):
            yield

    def register_module(self, module: ModuleType | object, name: str) -> None:
        """Register an in-process plugin (tests and embedding applications use this)."""
        self.pm.register(module, name=name)
        info = self.infos[name] = PluginInfo(name=name)
        self._components = None
        self._check_hooks(info)

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)
        self._components = None

    def _check_hooks(self, info: PluginInfo) -> None:
        """Record the plugin's hooks, and the ``@hookimpl`` functions that match no hook
        (what pluggy's ``check_pending`` refuses): fatal in strict mode."""
        plugin = self.pm.get_plugin(info.name)
        callers = self.pm.get_hookcallers(plugin) or []
        info.hooks = sorted(c.name for c in callers if c.has_spec())
        info.unknown_hooks = sorted(c.name for c in callers if not c.has_spec())
        if info.unknown_hooks and strict_mode():
            raise PluginError(f"plugin '{info.name}' {unknown_hooks_message(info.unknown_hooks)}")

    def _fail(self, info: PluginInfo, message: str, exc: BaseException | None = None) -> None:
        info.error = message
        if strict_mode():
            detail = "".join(traceback.format_exception(exc)) if exc else ""
            raise PluginError(f"plugin '{info.name}' {message}{_debug_hint(detail)}")

    # -- components ------------------------------------------------------------------------

    def _collect(self) -> dict[str, dict[str, Registration]]:
        if self._components is not None:
            return self._components
        components: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self._conflicts = {}
        for kind in KINDS:
            hook_name = KINDS[kind].hook
            hook = getattr(self.pm.hook, hook_name)
            for impl in reversed(hook.get_hookimpls()):  # registration order
                info = self.infos.setdefault(impl.plugin_name, PluginInfo(name=impl.plugin_name))
                register = self._registrar(kind, impl.plugin_name, components[kind], info)
                try:
                    with self._plugin_code(impl.plugin_name, f"{hook_name} of"):
                        impl.function(register=register)
                except SystemExit as exc:
                    self._fail(info, f"failed in {hook_name}: {exit_description(exc)}", exc)
                except Exception as exc:
                    self._fail(info, f"failed in {hook_name}: {_one_line(exc)}", exc)
        self._components = components
        self._note_outranking_sources(components["sources"])
        return components

    def _note_outranking_sources(self, sources: dict[str, Registration]) -> None:
        """A plugin source ranked at least as high as every built-in one may take over data
        that recaug's own sources read (every CSV, `demo`): listed by `recaug plugins`, and
        announced when it does (``loading.pick_source``)."""
        bundled = [r.cls for r in sources.values() if self.is_bundled(r.plugin)]
        if not bundled:
            return
        top = max(getattr(cls, "priority", 0) for cls in bundled)
        for name, reg in sources.items():
            priority = getattr(reg.cls, "priority", 0)
            info = self.infos.get(reg.plugin)
            if info is None or info.bundled or priority < top:
                continue
            note = f"source '{name}' ranks with or above the built-in sources (priority {priority})"
            if note not in info.overrides:
                info.overrides.append(note)

    def _registrar(
        self,
        kind: str,
        plugin: str,
        table: dict[str, Registration],
        info: PluginInfo,
    ) -> Callable[[type[Component]], None]:
        from recaug_core import api  # pydantic: only once components are needed

        base = getattr(api, KINDS[kind].base)

        def register(cls: type[Component]) -> None:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginError(f"{cls!r} is not a subclass of {base.__name__}")
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(f"{cls.__name__} has no `name`")
            if name in table and table[name].plugin != plugin:
                first = table[name].plugin
                self._conflicts.setdefault((kind, name), [first]).append(plugin)
                info.error = (
                    f"{KINDS[kind].singular} '{name}' is already registered by plugin '{first}'"
                )
                if strict_mode():
                    raise PluginError(_conflict_message(kind, name, [first, plugin]))
                return
            table[name] = Registration(cls, plugin)
            info.provides.setdefault(kind, []).append(name)

        return register

    def components(self, kind: str) -> dict[str, Registration]:
        if kind not in KINDS:
            raise PluginError(f"unknown component kind '{kind}'")
        return self._collect()[kind]

    def get(self, kind: str, name: str) -> type[Component]:
        table = self.components(kind)
        clash = self._conflicts.get((kind, name))
        if clash:
            raise PluginError(_conflict_message(kind, name, clash))
        if name not in table:
            what = f"{KINDS[kind].singular} {shown(name)}"
            guess = self._option_value_guess(kind, name)
            message = unknown_name_message(what, name, table, "available", guess)
            raise PluginError(message + self._broken_hint())
        return table[name].cls

    def _option_value_guess(self, kind: str, name: str) -> str | None:
        """``backend 'embedding' with option model=lightgcn``: a name typed where a
        component was expected may be a value one of them takes for an option."""
        for component, reg in sorted(self.components(kind).items()):
            for key, info in reg.cls.Options.model_fields.items():
                if name in _literal_values(info.annotation):
                    singular = KINDS[kind].singular
                    return f"{singular} '{component}' with option {key}={name}"
        return None

    def _broken_hint(self) -> str:
        broken = [info.name for info in self.infos.values() if info.error]
        if not broken:
            return ""
        return f" (plugins with errors: {', '.join(broken)}; see `recaug plugins`)"

    def plugin_infos(self) -> list[PluginInfo]:
        self._collect()
        for info in self.infos.values():
            for names in info.provides.values():
                names.sort()
        return sorted(self.infos.values(), key=lambda info: info.name)

    def register_commands(self, cli: Any) -> None:
        """Let plugins add commands to ``cli``; one that replaces a command is announced."""
        for impl in reversed(self.pm.hook.register_commands.get_hookimpls()):
            info = self.infos.setdefault(impl.plugin_name, PluginInfo(name=impl.plugin_name))
            before = dict(cli.commands)
            try:
                with self._plugin_code(impl.plugin_name, "register_commands of"):
                    impl.function(cli=cli)
            except SystemExit as exc:
                self._fail(info, f"failed in register_commands: {exit_description(exc)}", exc)
            except Exception as exc:
                self._fail(info, f"failed in register_commands: {_one_line(exc)}", exc)
            for name, command in cli.commands.items():
                if name in before and before[name] is not command:
                    replaced = f"command '{name}'"
                    if replaced not in info.overrides:
                        info.overrides.append(replaced)
                    announce(f"plugin '{info.name}' replaces the {replaced}")

    def plugin_of(self, kind: str, name: str) -> str | None:
        """The plugin that registered component ``name`` of ``kind`` (plural or singular)."""
        plural = next((k for k, v in KINDS.items() if kind in (k, v.singular)), None)
        if plural is None:
            return None
        registration = self.components(plural).get(name)
        return registration.plugin if registration is not None else None

    def is_bundled(self, plugin: str) -> bool:
        info = self.infos.get(plugin)
        return info is not None and info.bundled


def _literal_values(annotation: Any) -> set[Any]:
    """The values a ``Literal[...]`` annotation (possibly inside a union) allows."""
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    found: set[Any] = set()
    for arg in typing.get_args(annotation):
        found |= _literal_values(arg)
    return found


def announce(message: str) -> None:
    """A notice on stderr: something a plugin does that the user should know about."""
    print(f"notice: {message}", file=sys.stderr, flush=True)


def call_plugin(component: Any, stage: str, fn: Callable[[], Any]) -> Any:
    """Run a component's method under the sandbox's rules: its prints go to stderr, and any
    exception (``sys.exit`` included) becomes a PluginFailure naming the component, the stage
    and its plugin. A RecaugError passes: it is the plugin refusing the user's input."""
    try:
        with plugin_code():
            return fn()
    except RecaugError:
        raise
    except SystemExit as exc:
        raise plugin_failure(component, stage, exit_description(exc)) from None
    except Exception as exc:
        raise plugin_failure(component, stage, f"{type(exc).__name__}: {exc}") from exc


def plugin_failure(component: Any, stage: str, what: str) -> PluginFailure:
    """``strategy 'x' failed in generate: WHAT (plugin 'p')``."""
    kind, name = getattr(component, "kind", "component"), getattr(component, "name", "?")
    try:
        plugin = get_registry().plugin_of(kind, name)
    except PluginError:
        plugin = None
    where = f" (plugin '{plugin}')" if plugin else ""
    return PluginFailure(
        f"{kind} '{name}' failed in {stage}: {what}{where}", component=name, stage=stage
    )


def unknown_hooks_message(names: list[str]) -> str:
    """``implements 'register_strategy', which is not a recaug hook (did you mean ...?)``."""
    hooks = [kind.hook for kind in KINDS.values()] + ["register_commands"]
    parts = []
    for name in names:
        close = difflib.get_close_matches(name, hooks, n=1)
        parts.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return (
        f"implements {', '.join(parts)}, which "
        + ("is not a recaug hook" if len(names) == 1 else "are not recaug hooks")
        + "; it is never called"
    )


def _conflict_message(kind: str, name: str, plugins: Iterable[str]) -> str:
    names = " and ".join(f"'{p}'" for p in plugins)
    return (
        f"{KINDS[kind].singular} '{name}' is registered by plugins {names}; "
        "disable one with RECAUG_DISABLE_PLUGINS"
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _debug_hint(detail: str) -> str:
    return f"\n{detail}" if os.environ.get("RECAUG_DEBUG") and detail else ""


_registry: PluginRegistry | None = None


def get_registry() -> PluginRegistry:
    """The process-wide registry, loading entry points on first use."""
    global _registry
    if _registry is None:
        registry = PluginRegistry()
        registry.load_entry_points()
        _registry = registry
    return _registry


def reset_registry() -> None:
    """Forget the loaded plugins (tests change the environment and load again)."""
    global _registry
    _registry = None


def component_class(kind: str, name: str) -> type[Component]:
    """The class registered as ``name`` among ``kind`` ("strategies", ...); PluginError
    listing the available names otherwise."""
    return get_registry().get(kind, name)


def create(kind: str, name: str, options: Any = None) -> Any:
    """Instantiate the component ``name`` of ``kind`` with validated options."""
    return component_class(kind, name)(options)

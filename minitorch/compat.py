"""Run an unmodified torch program on minitorch: ``import torch`` gives minitorch.

    python -m minitorch run prog.py --epochs 3 --lr 0.1    # prog.py's own arguments follow it

    with minitorch.compat.torch_import_hook():             # the same, inside a Python process
        runpy.run_path("prog.py", run_name="__main__")

An import hook (a ``sys.meta_path`` finder and a loader) answers ``import torch`` and
``import torch.X.Y`` with ``minitorch`` and ``minitorch.X.Y``, and ``torchvision[.X]`` with
``minitorch.vision[.X]``: the program gets the very same module objects minitorch uses
(``torch.nn is minitorch.nn``), so nothing is copied or wrapped. A module minitorch lacks
(``torch.distributed``) is not found, as a missing module is.

``run`` executes the program as ``python prog.py ARGS`` would: ``__name__ == "__main__"``,
``sys.argv == ["prog.py", *ARGS]``, the program's folder first on ``sys.path``. When the program
reaches beyond minitorch's subset of torch -- an attribute, a submodule or a ``from ... import``
that minitorch lacks, or an option minitorch raises NotImplementedError for -- ``run`` prints one
line naming the first missing API and where the program uses it, and exits with status 2::

    minitorch run: prog.py line 42 uses torch.nn.functional.grid_sample, which minitorch does not
    implement (see docs/torch_compat.md)

Any other error in the program prints its traceback (from the program's first frame on) and exits
with status 1, as Python would; ``SystemExit`` from the program passes through unchanged.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys
import traceback
import types

from .tensor import Tensor
from .training.errors import UsageError

# alias -> real package, the longer alias first (torchvision is not torch + "vision")
ALIASES = (("torchvision", "minitorch.vision"), ("torch", "minitorch"))
SEE_ALSO = "see docs/torch_compat.md"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def real_name(name: str) -> str | None:
    """The minitorch module an aliased name stands for (``torch.nn`` -> ``minitorch.nn``,
    ``torchvision.utils`` -> ``minitorch.vision.utils``), or None for any other name."""
    for alias, real in ALIASES:
        if name == alias or name.startswith(alias + "."):
            return real + name[len(alias):]
    return None


def torch_name(name: str) -> str:
    """The name a torch program uses for a minitorch module: the inverse of ``real_name``."""
    for alias, real in ALIASES:
        if name == real or name.startswith(real + "."):
            return alias + name[len(real):]
    return name


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias by importing the real module and handing back that very object."""

    def __init__(self, real: str) -> None:
        self.real = real
        self.real_spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.real)
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # importlib pointed module.__spec__ at the alias's spec: give the module its own back,
        # so minitorch's relative imports and importlib.reload keep seeing minitorch
        module.__spec__ = self.real_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``torch[.X]`` / ``torchvision[.X]`` when minitorch has the module they stand for."""

    def find_spec(self, fullname, path=None, target=None):
        real = real_name(fullname)
        if real is None:
            return None
        try:
            spec = importlib.util.find_spec(real)
        except ImportError:
            return None
        if spec is None:  # minitorch lacks it: the import fails as for any missing module
            return None
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(real), is_package=spec.submodule_search_locations is not None)


def _is_aliased(name: str) -> bool:
    return real_name(name) is not None


@contextlib.contextmanager
def torch_import_hook():
    """Inside the block ``import torch`` / ``torchvision`` (and their submodules) import minitorch.

    Modules already imported under those names (a real torch, say) are set aside for the block
    and put back after it; the aliases made inside it are dropped."""
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_aliased(name)}
    finder = _AliasFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if _is_aliased(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


# ---- naming what a program reached for --------------------------------------------------------
def _public_class_name(cls: type) -> str:
    """``torch.optim.SGD`` for minitorch.optim.sgd.SGD: the shortest module path exporting it."""
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        if getattr(sys.modules.get(prefix), cls.__name__, None) is cls:
            return f"{torch_name(prefix)}.{cls.__qualname__}"
    return f"{torch_name(cls.__module__)}.{cls.__qualname__}"


def _from_minitorch(obj) -> bool:
    """Whether ``obj`` is a minitorch module, a class defined in minitorch or an instance of one
    (an instance of a program's own subclass is not: its missing attribute may be a typo)."""
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
    else:
        name = (obj if isinstance(obj, type) else type(obj)).__module__
    return name == "minitorch" or name.startswith("minitorch.")


def _owner_name(obj) -> str:
    """How a torch program names ``obj``: a module, a class, or an instance's class."""
    if isinstance(obj, types.ModuleType):
        return torch_name(obj.__name__)
    if isinstance(obj, Tensor) or obj is Tensor:
        return "torch.Tensor"
    return _public_class_name(obj if isinstance(obj, type) else type(obj))


def _frames(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _in_minitorch(tb) -> bool:
    filename = os.path.abspath(tb.tb_frame.f_code.co_filename)
    return filename.startswith(_PACKAGE_DIR + os.sep)


def missing_api(error: BaseException) -> str | None:
    """The torch name of what ``error`` says minitorch lacks, or None when it says something else.

    An AttributeError on a minitorch module, class or object (``torch.nn.functional.grid_sample``,
    ``torch.Tensor.sin``), a ModuleNotFoundError for an aliased module (``torch.distributed``),
    or ``from torch.X import name`` failing on a minitorch module. The error must be raised where
    the program reaches into minitorch, not deep inside it (that would be a minitorch bug) --
    ``Module.__getattr__``, which raises minitorch's own AttributeErrors, excepted."""
    frames = list(_frames(error.__traceback__))
    if not frames:
        return None
    innermost = frames[-1]
    if isinstance(error, AttributeError):
        obj, name = getattr(error, "obj", None), getattr(error, "name", None)
        if _in_minitorch(innermost):
            if innermost.tb_frame.f_code.co_name != "__getattr__":
                return None
            local = innermost.tb_frame.f_locals
            obj, name = local.get("self"), local.get("name")
        if name is None or obj is None or not _from_minitorch(obj):
            return None
        return f"{_owner_name(obj)}.{name}"
    if _in_minitorch(innermost):
        return None
    if isinstance(error, ModuleNotFoundError):
        return error.name if error.name and _is_aliased(error.name) else None
    if isinstance(error, ImportError) and error.name:
        module = sys.modules.get(error.name)
        missing = getattr(error, "name_from", None) or _cannot_import_name(str(error))
        if module is not None and missing and _from_minitorch(module):
            return f"{torch_name(error.name)}.{missing}"
    return None


def _cannot_import_name(message: str) -> str | None:
    prefix = "cannot import name '"
    if message.startswith(prefix):
        return message[len(prefix):].split("'", 1)[0]
    return None


def _where(error: BaseException, program: str, shown: str) -> str:
    """``prog.py line 42``: the innermost frame of the traceback outside minitorch and the runner,
    i.e. the line that reached for the API (in the program, or in a module of its own); the
    program is named as it was given, another file by its path relative to the working folder."""
    for tb in reversed(list(_frames(error.__traceback__))):
        filename = tb.tb_frame.f_code.co_filename
        if _in_minitorch(tb) or filename.startswith("<frozen") or filename == runpy.__file__:
            continue
        if os.path.abspath(filename) == program:
            return f"{shown} line {tb.tb_lineno}"
        return f"{os.path.relpath(filename)} line {tb.tb_lineno}"
    return shown


def _program_traceback(error: BaseException, program: str):
    """The traceback from the program's first frame on (the runner's frames dropped)."""
    for tb in _frames(error.__traceback__):
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == program:
            return tb
    return error.__traceback__


# ---- the run command --------------------------------------------------------------------------
def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``run [--debug] program [args ...]`` (everything after the program is the program's)."""
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback behind a missing-API report too "
                             "(also: MINITORCH_DEBUG=1)")
    parser.add_argument("program", help="the torch program (a .py file)")
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="arguments for the program (sys.argv[1:] there)")


def run_program(path: str, args=(), debug: bool = False) -> int:
    """Run the torch program at ``path`` with ``sys.argv[1:] == args`` on minitorch. Returns the
    exit status: 0 done, 1 the program raised, 2 it uses an API minitorch lacks."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file", hint="give the path of a Python program")
    program = os.path.abspath(path)
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(program))
    try:
        with torch_import_hook():
            runpy.run_path(program, run_name="__main__")
    except Exception as e:  # noqa: BLE001  (the program's errors are reported, as Python does)
        missing = missing_api(e)
        if missing is None and isinstance(e, NotImplementedError) and _in_minitorch(
                list(_frames(e.__traceback__))[-1]):
            missing = ""
        if debug or missing is None:
            traceback.print_exception(type(e), e, _program_traceback(e, program))
        if missing is None:
            return 1
        where = _where(e, program, path)
        if missing:
            print(f"minitorch run: {where} uses {missing}, which minitorch does not implement "
                  f"({SEE_ALSO})", file=sys.stderr)
        else:
            print(f"minitorch run: {where}: {e} ({SEE_ALSO})", file=sys.stderr)
        return 2
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    return 0


def run_from_args(args) -> int:
    """The ``run`` subcommand of ``python -m minitorch``."""
    debug = args.debug or os.environ.get("MINITORCH_DEBUG", "") not in ("", "0")
    return run_program(args.program, args.args, debug=debug)

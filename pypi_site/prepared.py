"""Querysets compiled to SQL once, for the few small queries that run on every request of a kind.

Django turns a queryset into SQL each time it runs, and for a small indexed lookup that costs
about ten times what the database takes (0.3-0.4 ms of Python against 0.03 ms in SQLite). That
is most of what a token check on every private read costs. A `PreparedQuery` is written as an
ordinary queryset, in the module whose rule it is; it is compiled the first time it runs, with
stand-in values for its parameters, and from then on the same SQL runs with the real values.
Rows come back as `values_list` would give them (the fields' converters applied).

`PreparedObjects` does the same for a lookup that gives model instances, and `PreparedInsert`
for the rows an upload adds (`Model.objects.create` compiles its INSERT anew every time: a
seventh of an upload's CPU went to compiling the four INSERTs of a new release and its file).

Only for `values_list` querysets whose parameters are plain integers or strings compared as
they are (`pk=`, `user_id=`, `identifier=`): compiling checks that every stand-in reached the
SQL's parameters unchanged and refuses the query otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections, router, transaction
from django.db.models import QuerySet, signals, sql

# Far from any id or constant a query holds, so a stand-in is never mistaken for one; and in
# the range of a 32-bit integer column, since on PostgreSQL Django turns a lookup of a value
# its column cannot hold into "no rows" (EmptyResultSet), and the stand-in would be lost.
_INT_MARK = -1_999_000_000
_STR_MARK = "\x00prepared-parameter-{}\x00"

# For each converted column: its position, the field's converters and their expression.
_Converters = tuple[tuple[int, tuple[Callable, ...], Any], ...]


@dataclass(frozen=True)
class _Compiled:
    alias: str
    sql: str
    # For each SQL parameter: the name of the argument it takes, or None to keep the constant.
    slots: tuple[str | None, ...]
    constants: tuple[Any, ...]
    col_count: int
    converters: _Converters


class PreparedQuery:
    """`build(**parameters)` returns a `values_list` queryset; `types` names each parameter's
    type (`int` or `str`). `rows(**values)` runs it and returns its rows as tuples."""

    def __init__(self, build: Callable[..., QuerySet], **types: type) -> None:
        if any(kind not in (int, str) for kind in types.values()):
            raise TypeError("PreparedQuery parameters are int or str")
        self.build = build
        self.types = types
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def _compile(self) -> _Compiled:
        marks = {
            name: _INT_MARK - i if kind is int else _STR_MARK.format(i)
            for i, (name, kind) in enumerate(self.types.items())
        }
        queryset = self.build(**marks)
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        by_mark = {(type(mark), mark): name for name, mark in marks.items()}
        slots = tuple(by_mark.get((type(param), param)) for param in params)
        if missing := set(marks) - set(slots):
            raise ValueError(f"parameters changed on the way to SQL: {sorted(missing)}")
        fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
        converters = tuple(
            (pos, tuple(convs), expression)
            for pos, (convs, expression) in compiler.get_converters(fields).items()
        )
        return _Compiled(
            alias=queryset.db,
            sql=sql,
            slots=slots,
            constants=tuple(params),
            col_count=compiler.col_count,
            converters=converters,
        )

    def compiled(self) -> _Compiled:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = self._compile()
        return self._compiled

    @property
    def alias(self) -> str:
        """The database it runs on (for `Model.from_db`)."""
        return self.compiled().alias

    def rows(self, **values: Any) -> list[tuple]:
        compiled = self.compiled()
        params = [
            constant if slot is None else self.types[slot](values[slot])
            for slot, constant in zip(compiled.slots, compiled.constants, strict=True)
        ]
        connection = connections[compiled.alias]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        if not compiled.converters:
            return [tuple(row[: compiled.col_count]) for row in fetched]
        return [
            tuple(_convert(list(raw[: compiled.col_count]), compiled.converters, connection))
            for raw in fetched
        ]

    def first(self, **values: Any) -> tuple | None:
        rows = self.rows(**values)
        return rows[0] if rows else None


class PreparedObjects:
    """A PreparedQuery that gives model instances, as iterating the queryset would (without
    its related-object caches): `build(**parameters)` returns a queryset of `model`, filtered,
    sliced or locked (`select_for_update`, compiled inside the first transaction that runs it).
    `fields` loads only those (the rest load on access, as with `only`)."""

    def __init__(
        self,
        model: type,
        build: Callable[..., QuerySet],
        *,
        fields: tuple[str, ...] = (),
        **types: type,
    ) -> None:
        self.model = model
        self.fields = list(fields) or [field.attname for field in model._meta.concrete_fields]
        self.query = PreparedQuery(
            lambda **marks: build(**marks).values_list(*self.fields), **types
        )

    def all(self, **values: Any) -> list:
        alias = self.query.alias
        return [self.model.from_db(alias, self.fields, row) for row in self.query.rows(**values)]

    def first(self, **values: Any):
        found = self.all(**values)
        return found[0] if found else None


@dataclass(frozen=True)
class _CompiledInsert:
    sql: str
    fields: tuple  # The columns, in the order of the SQL's parameters.
    returning: tuple  # What the database gives back (the primary key).
    returning_params: tuple
    converters: _Converters


class PreparedInsert:
    """`create(**values)` does what `model.objects.create(**values)` does: the same instance,
    the same row, the same primary key set on it. Only the INSERT's SQL is compiled once (per
    database); each call still runs every field's `pre_save` and `get_db_prep_save`, so
    defaults, `auto_now_add` and JSON encoding are as the ORM does them.

    `pre_save` and `post_save` are sent as `save()` sends them (webhooks listen to events).
    A caller who gives the primary key or an expression is handed to `save()`; an expression
    a receiver sets goes through the ORM's own INSERT. A model with parents or
    `order_with_respect_to` is refused."""

    def __init__(self, model: type) -> None:
        meta = model._meta
        if meta.parents or meta.order_with_respect_to:
            raise TypeError(f"PreparedInsert cannot insert {meta.label}")
        self.model = model
        self._compiled: dict[str, _CompiledInsert] = {}
        self._lock = threading.Lock()

    def _compile(self, alias: str, instance) -> _CompiledInsert:
        meta = self.model._meta
        fields = self._columns()
        query = sql.InsertQuery(self.model)
        query.insert_values(list(fields), [instance])
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = meta.db_returning_fields
        [(statement, params)] = compiler.as_sql()
        placeholders = "VALUES (" + ", ".join(["%s"] * len(fields)) + ")"
        if len(params) != len(fields) or placeholders not in statement:
            raise ValueError(f"{meta.label}: the INSERT is not one placeholder per column")
        returning = tuple(compiler.returning_fields or ())
        columns = [field.get_col(meta.db_table) for field in returning]
        converters = tuple(
            (pos, tuple(convs), expression)
            for pos, (convs, expression) in compiler.get_converters(columns).items()
        )
        return _CompiledInsert(
            sql=statement,
            fields=fields,
            returning=returning,
            returning_params=tuple(compiler.returning_params),
            converters=converters,
        )

    def _columns(self) -> tuple:
        """The columns save() inserts when the primary key is the database's to choose."""
        meta = self.model._meta
        return tuple(
            f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field
        )

    def create(self, **values: Any):
        instance = self.model(**values)
        alias = router.db_for_write(self.model, instance=instance)
        if instance.pk is not None or any(
            hasattr(value, "resolve_expression") for value in values.values()
        ):
            instance.save(force_insert=True, using=alias)
            return instance
        instance._prepare_related_fields_for_save(operation_name="save")
        connection = connections[alias]
        compiled = self._compiled.get(alias)
        fields = compiled.fields if compiled else self._columns()
        # Before each field's pre_save(), as save() does: a receiver may change the instance.
        signals.pre_save.send(
            sender=self.model, instance=instance, raw=False, using=alias, update_fields=None
        )
        raw = [field.pre_save(instance, True) for field in fields]
        if any(hasattr(value, "resolve_expression") for value in raw):
            # An expression becomes part of the statement: the ORM compiles this one.
            rows = self.model._base_manager._insert(
                [instance],
                fields=list(fields),
                returning_fields=self.model._meta.db_returning_fields,
                using=alias,
            )
            returning, row = self.model._meta.db_returning_fields, rows[0] if rows else ()
        else:
            if compiled is None:
                with self._lock:
                    compiled = self._compiled.get(alias) or self._compile(alias, instance)
                    self._compiled[alias] = compiled
            returning, row = compiled.returning, self._execute(compiled, connection, raw)
        for field, value in zip(returning, row, strict=True):
            setattr(instance, field.attname, value)
        instance._state.adding = False
        instance._state.db = alias
        signals.post_save.send(
            sender=self.model,
            instance=instance,
            created=True,
            update_fields=None,
            raw=False,
            using=alias,
        )
        return instance

    def _execute(self, compiled: _CompiledInsert, connection, raw: list) -> list:
        """Run the INSERT; the returned columns (the primary key), converted."""
        params = [
            field.get_db_prep_save(value, connection=connection)
            for field, value in zip(compiled.fields, raw, strict=True)
        ]
        # As save() does: a failed INSERT inside atomic() marks the transaction for rollback.
        with (
            transaction.mark_for_rollback_on_error(connection.alias),
            connection.cursor() as cursor,
        ):
            cursor.execute(compiled.sql, params)
            if not compiled.returning:
                return []
            if connection.features.can_return_columns_from_insert:
                row = list(
                    connection.ops.fetch_returned_insert_columns(cursor, compiled.returning_params)
                )
            else:
                table, column = self.model._meta.db_table, compiled.returning[0].column
                row = [connection.ops.last_insert_id(cursor, table, column)]
        return _convert(row, compiled.converters, connection)


def _convert(row: list, converters: _Converters, connection) -> list:
    """Apply the fields' converters to a fetched row, in place, as the ORM does on reading."""
    for pos, convs, expression in converters:
        for converter in convs:
            row[pos] = converter(row[pos], expression, connection)
    return row

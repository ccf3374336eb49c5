"""The transform classes: thin, documented wrappers over DynamicFrame's methods."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection

_COMMON = [
    ("transformation_ctx", "str", "A key for bookmarks and errors (optional).", ""),
    ("info", "str", "A note kept with error records (optional).", ""),
    ("stageThreshold", "int", "Errors in this transform that fail it (0: never).", 0),
    ("totalThreshold", "int", "Errors up to here that fail it (0: never).", 0),
]


class GlueTransform:
    """A Glue transform: ``Transform.apply(frame=…, …)`` or ``Transform()(…)``."""

    DESCRIPTION: ClassVar[str] = ""
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = []  # name, type, description, default
    RETURNS: ClassVar[str] = "DynamicFrame"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the transform."""
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    @classmethod
    def describeArgs(cls) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "type": type_name,
                "description": text,
                "optional": default is not ...,
                "defaultValue": None if default is ... else default,
            }
            for name, type_name, text, default in [*cls.ARGS, *_COMMON]
        ]

    @classmethod
    def describeReturn(cls) -> dict[str, str]:
        return {"type": cls.RETURNS, "description": f"The {cls.RETURNS} the transform makes."}

    @classmethod
    def describeTransform(cls) -> str:
        return cls.DESCRIPTION

    @classmethod
    def describeErrors(cls) -> list[dict[str, str]]:
        return [{"type": "ValueError", "description": "An argument names a missing field."}]

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What the transform does, its arguments, what it returns and raises."""
        return {
            "transform": {
                "name": cls.name(),
                "args": cls.describeArgs(),
                "returns": cls.describeReturn(),
                "raises": cls.describeErrors(),
                "description": cls.describeTransform(),
            }
        }


class ApplyMapping(GlueTransform):
    DESCRIPTION = "Select, rename, cast and nest fields by (source, type, target, type) tuples."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame to map.", ...),
        ("mappings", "list", "(source path, source type, target path, target type) tuples.", ...),
        ("case_sensitive", "bool", "Match source names by case.", False),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        mappings: Sequence[Sequence[str]],
        case_sensitive: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.apply_mapping(
            mappings, case_sensitive, transformation_ctx, info, stageThreshold, totalThreshold
        )


class ResolveChoice(GlueTransform):
    DESCRIPTION = (
        "Resolve choice types: cast:<type>, project:<type>, make_cols, make_struct, match_catalog."
    )
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame to resolve.", ...),
        ("specs", "list", "(field path, action) tuples.", None),
        ("choice", "str", "One action for every choice field.", ""),
        ("database", "str", "Catalog database for match_catalog.", None),
        ("table_name", "str", "Catalog table for match_catalog.", None),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        specs: Sequence[tuple[str, str]] | None = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        catalog_id: str | None = None,
    ) -> DynamicFrame:
        return frame.resolveChoice(
            specs,
            choice,
            database,
            table_name,
            transformation_ctx,
            info,
            stageThreshold,
            totalThreshold,
            catalog_id,
        )


class DropNullFields(GlueTransform):
    DESCRIPTION = "Drop the fields that are null in every record."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [("frame", "DynamicFrame", "The frame.", ...)]

    def __call__(
        self,
        frame: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.drop_null_fields(transformation_ctx)


class Relationalize(GlueTransform):
    DESCRIPTION = "Flatten nested records into a root table and one table per array."
    RETURNS = "DynamicFrameCollection"
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame to flatten.", ...),
        ("staging_path", "str", "A scratch path (accepted; not needed here).", ""),
        ("name", "str", "The root table's name.", "roottable"),
        ("options", "dict", "Not supported.", None),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        staging_path: str = "",
        name: str = "roottable",
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        return frame.relationalize(
            name, staging_path, options, transformation_ctx, info, stageThreshold, totalThreshold
        )


class SelectFields(GlueTransform):
    DESCRIPTION = "Keep only the given fields."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("paths", "list", "Field paths to keep.", ...),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        paths: Sequence[str],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.select_fields(paths, transformation_ctx, info, stageThreshold, totalThreshold)


class DropFields(GlueTransform):
    DESCRIPTION = "Drop the given fields."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("paths", "list", "Field paths to drop.", ...),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        paths: Sequence[str],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.drop_fields(paths, transformation_ctx, info, stageThreshold, totalThreshold)


class RenameField(GlueTransform):
    DESCRIPTION = "Rename a field."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("old_name", "str", "The field's path.", ...),
        ("new_name", "str", "Its new path.", ...),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        old_name: str,
        new_name: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.rename_field(
            old_name, new_name, transformation_ctx, info, stageThreshold, totalThreshold
        )


class Filter(GlueTransform):
    DESCRIPTION = "Keep the records for which a function is true."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("f", "function", "record -> bool.", ...),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        f: Callable[[Any], bool],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.filter(f, transformation_ctx, info, stageThreshold, totalThreshold)


class Map(GlueTransform):
    DESCRIPTION = "Apply a function to every record."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("f", "function", "record -> record.", ...),
        ("preservesPartitioning", "bool", "Accepted.", False),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        f: Callable[[Any], Any],
        preservesPartitioning: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.map(
            f, preservesPartitioning, transformation_ctx, info, stageThreshold, totalThreshold
        )


class FlatMap(GlueTransform):
    DESCRIPTION = "Apply a transform to every frame of a collection."
    RETURNS = "DynamicFrameCollection"
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("dfc", "DynamicFrameCollection", "The collection.", ...),
        ("BaseTransform", "GlueTransform", "The transform to apply.", ...),
        ("frame_name", "str", "The keyword the transform takes the frame by.", ...),
    ]

    def __call__(
        self,
        dfc: DynamicFrameCollection,
        BaseTransform: type[GlueTransform],
        frame_name: str,
        transformation_ctx: str = "",
        **base_kwargs: Any,
    ) -> DynamicFrameCollection:
        def run(frame: DynamicFrame, ctx: str) -> Any:
            return BaseTransform.apply(**{frame_name: frame}, transformation_ctx=ctx, **base_kwargs)

        return dfc.flatmap(run, transformation_ctx)


class Join(GlueTransform):
    DESCRIPTION = "Equality join of two frames; both keys are kept."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame1", "DynamicFrame", "The first frame.", ...),
        ("frame2", "DynamicFrame", "The second frame.", ...),
        ("keys1", "list", "Key paths of frame1.", ...),
        ("keys2", "list", "Key paths of frame2.", ...),
    ]

    def __call__(
        self,
        frame1: DynamicFrame,
        frame2: DynamicFrame,
        keys1: Sequence[str] | str,
        keys2: Sequence[str] | str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        k1 = [keys1] if isinstance(keys1, str) else list(keys1)
        k2 = [keys2] if isinstance(keys2, str) else list(keys2)
        return frame1.join(k1, k2, frame2, transformation_ctx, info, stageThreshold, totalThreshold)


class SplitFields(GlueTransform):
    DESCRIPTION = "Split a frame by fields into two frames."
    RETURNS = "DynamicFrameCollection"
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("paths", "list", "Fields of the first frame.", ...),
        ("name1", "str", "The first frame's name.", None),
        ("name2", "str", "The second frame's name.", None),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        paths: Sequence[str],
        name1: str | None = None,
        name2: str | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        first = name1 or f"{frame.name}_1"
        second = name2 or f"{frame.name}_2"
        return frame.split_fields(
            paths, first, second, transformation_ctx, info, stageThreshold, totalThreshold
        )


class SplitRows(GlueTransform):
    DESCRIPTION = "Split a frame by comparisons on fields into two frames."
    RETURNS = "DynamicFrameCollection"
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("comparison_dict", "dict", '{"field": {">": 10}} conditions, all must hold.', ...),
        ("name1", "str", "The matching records' frame.", None),
        ("name2", "str", "The others' frame.", None),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        comparison_dict: Mapping[str, Mapping[str, Any]],
        name1: str | None = None,
        name2: str | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        first = name1 or f"{frame.name}_1"
        second = name2 or f"{frame.name}_2"
        return frame.split_rows(
            comparison_dict, first, second, transformation_ctx, info, stageThreshold, totalThreshold
        )


class Unbox(GlueTransform):
    DESCRIPTION = "Parse a string field holding JSON (or delimited text) into a struct."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("path", "str", "The string field.", ...),
        ("format", "str", "json or csv.", ...),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        path: str,
        format: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        **options: Any,
    ) -> DynamicFrame:
        return frame.unbox(
            path, format, transformation_ctx, info, stageThreshold, totalThreshold, **options
        )


class UnnestFrame(GlueTransform):
    DESCRIPTION = "Flatten nested structs into top-level fields named parent.child."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [("frame", "DynamicFrame", "The frame.", ...)]

    def __call__(
        self,
        frame: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.unnest(transformation_ctx, info, stageThreshold, totalThreshold)


class Spigot(GlueTransform):
    DESCRIPTION = "Write a sample of the records to a path; pass the frame through."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("path", "str", "Where the sample goes (JSON).", ...),
        ("options", "dict", "topk (default 100), prob (default 1.0).", None),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        path: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        return frame.spigot(path, options, transformation_ctx)


class SelectFromCollection(GlueTransform):
    DESCRIPTION = "The frame of a collection with a given key."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("dfc", "DynamicFrameCollection", "The collection.", ...),
        ("key", "str", "The frame's name.", ...),
    ]

    def __call__(
        self, dfc: DynamicFrameCollection, key: str, transformation_ctx: str = ""
    ) -> DynamicFrame:
        return dfc.select(key, transformation_ctx)


class MapToCollection(GlueTransform):
    DESCRIPTION = "Apply a transform to every frame of a collection."
    RETURNS = "DynamicFrameCollection"
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("dfc", "DynamicFrameCollection", "The collection.", ...),
        ("callable", "function", "(frame, transformation_ctx) -> frame.", ...),
    ]

    def __call__(
        self,
        dfc: DynamicFrameCollection,
        callable: Callable[[DynamicFrame, str], DynamicFrame],
        transformation_ctx: str = "",
    ) -> DynamicFrameCollection:
        return dfc.map(callable, transformation_ctx)


class Union(GlueTransform):
    DESCRIPTION = "The records of two frames (fields matched by name)."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame1", "DynamicFrame", "The first frame.", ...),
        ("frame2", "DynamicFrame", "The second frame.", ...),
    ]

    def __call__(
        self,
        frame1: DynamicFrame,
        frame2: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame1.union(frame2, transformation_ctx, info, stageThreshold, totalThreshold)


class Repartition(GlueTransform):
    DESCRIPTION = "The same records in a number of partitions."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("num_partitions", "int", "The number of partitions.", ...),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        num_partitions: int,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.repartition(
            num_partitions, transformation_ctx, info, stageThreshold, totalThreshold
        )


class Coalesce(GlueTransform):
    DESCRIPTION = "The same records in at most a number of partitions."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [
        ("frame", "DynamicFrame", "The frame.", ...),
        ("num_partitions", "int", "The number of partitions.", ...),
    ]

    def __call__(
        self,
        frame: DynamicFrame,
        num_partitions: int,
        shuffle: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        return frame.coalesce(
            num_partitions, shuffle, transformation_ctx, info, stageThreshold, totalThreshold
        )


class ErrorsAsDynamicFrame(GlueTransform):
    DESCRIPTION = "The error records of the transforms that made a frame."
    ARGS: ClassVar[list[tuple[str, str, str, Any]]] = [("frame", "DynamicFrame", "The frame.", ...)]

    def __call__(self, frame: DynamicFrame) -> DynamicFrame:
        return frame.errorsAsDynamicFrame()

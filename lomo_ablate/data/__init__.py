"""Built-in, procedurally generated data: training pools and probe items (see docs/evaluate.md)."""
from lomo_ablate.data.builtin import probe_items, reading_texts, write_multimodal_pool, write_text_pool
from lomo_ablate.data.tasks import ALL_TASKS, IMAGE_TASKS, TEXT_TASKS, TaskItem, make_item

__all__ = ["probe_items", "reading_texts", "write_multimodal_pool", "write_text_pool", "ALL_TASKS", "IMAGE_TASKS", "TEXT_TASKS",
           "TaskItem", "make_item"]

"""The LightningModule and its settings (``configs/module/``)."""

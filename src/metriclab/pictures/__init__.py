"""Pictures: result sheets and thumbnails, the HTML page."""

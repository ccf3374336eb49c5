"""File formats shared by the crawler and Spark: compression codecs, JsonPath."""

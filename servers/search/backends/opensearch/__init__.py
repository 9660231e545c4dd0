"""The cluster backend: OpenSearch (or Elasticsearch's compatible REST API) through the official ``opensearch-py`` client."""

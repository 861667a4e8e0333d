-- The content app finds a file of a repository version by its relative path: without this
-- index, every request would scan the content artifacts of the whole version.
CREATE INDEX core_contentartifact_relative_path ON core_contentartifact (relative_path);

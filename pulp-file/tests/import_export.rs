//! Pulp export and import of file repositories: the exports pulpcore 3.123.1 made, round
//! trips between two pulp-rs apps (full, incremental, chunked), the failures that must import
//! nothing, and the filesystem export. On SQLite and PostgreSQL.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pulp_file::FileContent;
use pulp_plugin_api::importexport::{
    allowed_path, export_versions, filesystem_export, import_repository_version, prepare_import,
    read_export, ExportFiles, ExportRequest, FilesystemMethod, FilesystemSource, ImportExportError,
    PathKind, TableOfContents,
};
use pulp_plugin_api::models::{self, ContentArtifact};
use pulp_plugin_api::repository::{latest_version, version_content, NewVersion, RepositoryVersion};
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::ExpectedArtifact;
use pulp_plugin_api::{App, PulpId, Settings};
use sha2::Digest as _;
use support::{app, repository};

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/pulpcore-3.123.1-export"
);

fn reference() -> PathBuf {
    PathBuf::from(REFERENCE)
}

fn reference_file(suffix: &str) -> PathBuf {
    std::fs::read_dir(reference())
        .expect("the reference exports")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no reference file ending in {suffix}"))
}

fn sha256(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// Adds files (path, bytes) to a repository as one new version.
async fn add_files(app: &App, repo: PulpId, files: &[(&str, Vec<u8>)]) -> RepositoryVersion {
    let mut units = Vec::new();
    let mut artifacts = Vec::new();
    for (path, data) in files {
        let stored = app
            .storage()
            .ingest_bytes(data.clone().into(), &ExpectedArtifact::any())
            .await
            .expect("store");
        let artifact = models::save_artifact(app.db(), &stored)
            .await
            .expect("artifact");
        units.push(FileContent {
            relative_path: path.to_string(),
            digest: stored.sha256.clone(),
        });
        artifacts.push(artifact.pulp_id);
    }
    let saved = models::save_content(app.db(), units)
        .await
        .expect("content");
    let links: Vec<(PulpId, Option<PulpId>, String)> = saved
        .iter()
        .zip(&artifacts)
        .map(|(u, a)| (u.pulp_id(), Some(*a), u.relative_path.clone()))
        .collect();
    models::save_content_artifacts(app.db(), &links)
        .await
        .expect("links");
    let ids: Vec<PulpId> = saved.iter().map(|u| u.pulp_id()).collect();
    let mut version = NewVersion::start(app, repo).await.expect("start");
    version.add_content(&ids).await.expect("add");
    version
        .commit()
        .await
        .expect("commit")
        .expect("a new version")
}

/// `relative_path → bytes` of a repository's latest version.
async fn files_of(app: &App, repo: PulpId) -> BTreeMap<String, Vec<u8>> {
    let version = latest_version(app.db(), repo).await.expect("latest");
    let units = version_content::<FileContent>(app.db(), &version, 1_000_000, 0)
        .await
        .expect("content");
    let ids: Vec<PulpId> = units.iter().map(|u| u.pulp_id()).collect();
    let links: Vec<ContentArtifact> = models::content_artifacts(app.db(), &ids)
        .await
        .expect("links");
    assert_eq!(links.len(), units.len(), "every unit has its artifact");
    let mut out = BTreeMap::new();
    for unit in &units {
        let data = app
            .storage()
            .read_artifact(&unit.digest)
            .await
            .expect("the artifact is stored")
            .to_vec();
        assert_eq!(sha256(&data), unit.digest, "{}", unit.relative_path);
        out.insert(unit.relative_path.clone(), data);
    }
    out
}

async fn artifact_count(app: &App) -> i64 {
    pulp_plugin_api::on_pool!(app.db(), pool => {
        pulp_plugin_api::deps::sqlx::query_scalar("SELECT COUNT(*) FROM core_artifact").fetch_one(pool).await.expect("count")
    })
}

/// Every file in the artifact storage directory.
fn stored_files(t: &TestDatabase) -> usize {
    let root = t.dir.path().join("media").join("artifact");
    walk(&root)
}

fn walk(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.expect("entry").path())
        .map(|p| if p.is_dir() { walk(&p) } else { 1 })
        .sum()
}

/// The whole import as the tasks run it: read, check, artifacts, one version per repository.
async fn import(
    app: &App,
    files: &ExportFiles,
    mapping: &[(&str, &str)],
    create: bool,
) -> Result<Vec<(PulpId, Option<i64>)>, ImportExportError> {
    let read_files = files.clone();
    let contents = tokio::task::spawn_blocking(move || read_export(&read_files))
        .await
        .expect("join")?;
    let mapping: BTreeMap<String, String> = mapping
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let plan = prepare_import(app, &contents, &mapping, create).await?;
    plan.import_artifacts(app, files).await?;
    let mut out = Vec::new();
    for repository in &plan.repositories {
        out.push(import_repository_version(app, &contents, repository).await?);
    }
    Ok(out)
}

/// The files of a table of contents, validated.
fn toc_files(toc: &Path) -> ExportFiles {
    let parsed = TableOfContents::read(toc).expect("toc");
    let dir = toc.parent().expect("dir");
    parsed.validate(dir).expect("valid toc");
    ExportFiles::Chunks(parsed.chunk_paths(dir))
}

async fn export(
    app: &App,
    dir: &Path,
    versions: Vec<RepositoryVersion>,
    start: Option<Vec<RepositoryVersion>>,
    chunk_size: u64,
) -> PathBuf {
    let output = export_versions(
        app,
        ExportRequest {
            export_id: PulpId::new(),
            directory: dir.to_path_buf(),
            versions,
            start_versions: start,
            chunk_size,
            meta: Default::default(),
        },
    )
    .await
    .expect("export");
    output.toc_path
}

/// The names of the entries of an export.
fn entries(files: &ExportFiles) -> Vec<String> {
    let bytes: Vec<u8> = match files {
        ExportFiles::Tar(p) => std::fs::read(p).expect("tar"),
        ExportFiles::Chunks(ps) => ps
            .iter()
            .flat_map(|p| std::fs::read(p).expect("chunk"))
            .collect(),
    };
    let mut archive = tar::Archive::new(bytes.as_slice());
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn expected_reference_files() -> BTreeMap<String, (usize, String)> {
    BTreeMap::from([
        (
            "1.iso".to_string(),
            (
                1025,
                "49b8499f7df4413a1f939584e7e79f295f019684bb49780c195bbe0857058ba5".to_string(),
            ),
        ),
        (
            "2.iso".to_string(),
            (
                2049,
                "a2355554b48f5852b548e0199e6e6482656ecd9824accc09f8379cedb3ee8beb".to_string(),
            ),
        ),
        (
            "3.iso".to_string(),
            (
                3073,
                "c73a7c7b271aec3dff80340f14e4910db278d14d4829375c7ddf21a00133d059".to_string(),
            ),
        ),
    ])
}

/// The bytes of each artifact inside the reference tar.
fn reference_artifacts() -> BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(reference_file("1804.tar")).expect("tar");
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut out = BTreeMap::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        if let Some(rest) = path.strip_prefix("artifact/") {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
            out.insert(rest.replace('/', ""), data);
        }
    }
    out
}

async fn assert_reference_imported(app: &App, repo: PulpId) {
    let files = files_of(app, repo).await;
    let originals = reference_artifacts();
    let expected = expected_reference_files();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (path, (size, sha)) in expected {
        assert_eq!(files[&path].len(), size, "{path}");
        assert_eq!(sha256(&files[&path]), sha, "{path}");
        assert_eq!(files[&path], originals[&sha], "{path} byte for byte");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
    }
}

pulp_plugin_api::testing::db_tests! {
    async fn importing_the_pulpcore_tar_gives_its_three_files(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "local").await;
        let made = import(&app, &ExportFiles::Tar(reference_file("1804.tar")), &[("exp-repo", "local")], false)
            .await
            .expect("import");
        assert_eq!(made, vec![(repo.pulp_id(), Some(1))]);
        assert_reference_imported(&app, repo.pulp_id()).await;
        // Importing again changes nothing: no new version.
        let again = import(&app, &ExportFiles::Tar(reference_file("1804.tar")), &[("exp-repo", "local")], false)
            .await
            .expect("import again");
        assert_eq!(again, vec![(repo.pulp_id(), None)]);
    }

    async fn importing_the_pulpcore_chunks_through_their_toc_gives_the_same_files(t: &TestDatabase) {
        let app = app(t).await;
        let files = toc_files(&reference_file("1805-toc.json"));
        let made = import(&app, &files, &[], true).await.expect("import");
        assert_eq!(made.len(), 1);
        let repo = made[0].0;
        let created = models::get::<pulp_file::FileRepository>(app.db(), repo).await.expect("created");
        assert_eq!(created.fields().name, "exp-repo");
        assert_eq!(created.detail.manifest.as_deref(), Some("PULP_MANIFEST"));
        assert_reference_imported(&app, repo).await;
    }

    async fn an_export_round_trips_full_incremental_and_chunked(t: &TestDatabase) {
        let source = app(t).await;
        let repo = repository(&source, "src").await;
        let v1 = add_files(&source, repo.pulp_id(), &[
            ("a.txt", b"alpha".to_vec()),
            ("dir/b.bin", vec![7u8; 70_000]),
            ("c", b"gamma".to_vec()),
        ]).await;
        let out = t.dir.path().join("exports");
        let toc = export(&source, &out, vec![v1.clone()], None, 0).await;
        let parsed = TableOfContents::read(&toc).expect("toc");
        assert_eq!(parsed.checksum_type(), "crc32");
        assert_eq!(parsed.files.len(), 1);
        let full = toc_files(&toc);
        let names = entries(&full);
        assert_eq!(names[0], "versions.json");
        assert_eq!(names.iter().filter(|n| n.starts_with("artifact/")).count(), 3);
        assert!(names.contains(&"repository-src_1/pulp_file.app.modelresource.FileContentResource.json".to_string()), "{names:?}");
        assert!(names.contains(&"repository-src_1/pulpcore.app.modelresource.ContentArtifactResource.json".to_string()), "{names:?}");

        // A second app (another schema of the same database server) imports it.
        let t2 = TestDatabase::of(t.db.backend()).await.expect("a second database");
        let target = app(&t2).await;
        let made = import(&target, &full, &[], true).await.expect("import");
        let dest = made[0].0;
        assert_eq!(files_of(&target, dest).await, files_of(&source, repo.pulp_id()).await);

        // Incremental: only the new artifact travels; the version is the whole new version.
        let v2 = add_files(&source, repo.pulp_id(), &[("d.txt", b"delta".to_vec())]).await;
        let out2 = t.dir.path().join("exports2");
        let toc2 = export(&source, &out2, vec![v2.clone()], Some(vec![v1.clone()]), 0).await;
        let incremental = toc_files(&toc2);
        assert_eq!(entries(&incremental).iter().filter(|n| n.starts_with("artifact/")).count(), 1);
        import(&target, &incremental, &[], false).await.expect("incremental import");
        let imported = files_of(&target, dest).await;
        assert_eq!(imported.len(), 4);
        assert_eq!(imported, files_of(&source, repo.pulp_id()).await);

        // Chunked: many chunks, read back through the toc.
        let out3 = t.dir.path().join("exports3");
        let toc3 = export(&source, &out3, vec![v2.clone()], None, 10_000).await;
        let chunked = TableOfContents::read(&toc3).expect("toc");
        assert!(chunked.files.len() > 5, "{:?}", chunked.files.keys());
        assert_eq!(chunked.chunk_size().expect("size"), 10_000);
        assert!(chunked.files.keys().all(|k| k.contains(".tar.0")));
        let t3 = TestDatabase::of(t.db.backend()).await.expect("a second database");
        let third = app(&t3).await;
        let made = import(&third, &toc_files(&toc3), &[("src", "copy")], true).await.expect("import chunks");
        assert_eq!(files_of(&third, made[0].0).await, files_of(&source, repo.pulp_id()).await);
        t2.cleanup().await;
        t3.cleanup().await;
    }

    async fn failed_imports_import_nothing(t: &TestDatabase) {
        let app = app(t).await;
        repository(&app, "local").await;
        let work = t.dir.path().join("bad");
        let reference_toc = reference_file("1805-toc.json");
        let toc_name = reference_toc.file_name().expect("name").to_owned();

        // A corrupted chunk.
        let corrupted = work.join("corrupted");
        copy_dir(&reference(), &corrupted);
        let chunk = std::fs::read_dir(&corrupted).expect("dir").map(|e| e.expect("e").path())
            .find(|p| p.to_string_lossy().ends_with(".tar.0001")).expect("chunk");
        let mut bytes = std::fs::read(&chunk).expect("read");
        bytes[100] ^= 0xff;
        std::fs::set_permissions(&chunk, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(&chunk, bytes).expect("write");
        let toc = TableOfContents::read(&corrupted.join(&toc_name)).expect("toc");
        let err = toc.validate(&corrupted).expect_err("corrupted");
        assert!(matches!(err, ImportExportError::ChecksumMismatch(_)), "{err}");
        assert!(err.to_string().contains(".tar.0001"), "{err}");

        // A missing chunk.
        let missing = work.join("missing");
        copy_dir(&reference(), &missing);
        let gone = std::fs::read_dir(&missing).expect("dir").map(|e| e.expect("e").path())
            .find(|p| p.to_string_lossy().ends_with(".tar.0003")).expect("chunk");
        std::fs::remove_file(&gone).expect("rm");
        let toc = TableOfContents::read(&missing.join(&toc_name)).expect("toc");
        let err = toc.validate(&missing).expect_err("missing");
        assert!(matches!(err, ImportExportError::MissingChunks(_)), "{err}");

        // A toc whose checksum does not match its file.
        let edited = work.join("edited");
        copy_dir(&reference(), &edited);
        let toc_path = edited.join(reference_file("1804-toc.json").file_name().expect("name"));
        std::fs::set_permissions(&toc_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let text = std::fs::read_to_string(&toc_path).expect("toc").replace("34695db8", "34695db9");
        std::fs::write(&toc_path, text).expect("write");
        let err = TableOfContents::read(&toc_path).expect("toc").validate(&edited).expect_err("mismatch");
        assert!(matches!(err, ImportExportError::ChecksumMismatch(_)), "{err}");

        // An export from incompatible versions.
        let old = work.join("old.tar");
        rewrite_tar(&reference_file("1804.tar"), &old, |name, data| {
            if name == "versions.json" {
                br#"[{"component": "core", "version": "3.99.0"}, {"component": "file", "version": "3.123.1"}]"#.to_vec()
            } else {
                data
            }
        });
        let err = import(&app, &ExportFiles::Tar(old), &[("exp-repo", "local")], false).await.expect_err("incompatible");
        assert!(matches!(err, ImportExportError::IncompatibleVersions(_)), "{err}");
        assert!(err.to_string().contains("Export version 3.99.0 of core incompatible"), "{err}");

        // A repo_mapping naming a repository that does not exist.
        let err = import(&app, &ExportFiles::Tar(reference_file("1804.tar")), &[("exp-repo", "nowhere")], false)
            .await
            .expect_err("missing repository");
        assert!(matches!(err, ImportExportError::MissingRepository(_)), "{err}");
        assert!(err.to_string().contains("'nowhere'"), "{err}");

        // An artifact whose bytes are not its digest (a tar edited after the toc was made).
        let tampered = work.join("tampered.tar");
        rewrite_tar(&reference_file("1804.tar"), &tampered, |name, mut data| {
            if name.starts_with("artifact/c7") {
                data[0] ^= 1;
            }
            data
        });
        let err = import(&app, &ExportFiles::Tar(tampered), &[("exp-repo", "local")], false)
            .await
            .expect_err("tampered");
        assert!(err.to_string().contains("c73a7c7b"), "{err}");

        assert_eq!(artifact_count(&app).await, 0, "no artifact was recorded");
        assert_eq!(stored_files(t), 0, "no artifact file was left");
        let repo = latest_version(app.db(), repository_id(&app, "local").await).await.expect("latest");
        assert_eq!(repo.number, 0, "no version was made");
    }

    async fn filesystem_exports_write_link_and_only_the_change(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "fs").await;
        let v1 = add_files(&app, repo.pulp_id(), &[("a.txt", b"alpha".to_vec()), ("sub/b.txt", b"beta".to_vec())]).await;
        for method in [FilesystemMethod::Write, FilesystemMethod::Hardlink, FilesystemMethod::Symlink] {
            let dir = t.dir.path().join(format!("fs-{}", method.as_str()));
            let written = filesystem_export(&app, &dir, method, &FilesystemSource::RepositoryVersion(v1.clone()), None)
                .await
                .expect("export");
            assert_eq!(written, vec!["a.txt".to_string(), "sub/b.txt".to_string()]);
            assert_eq!(std::fs::read(dir.join("sub/b.txt")).expect("read"), b"beta");
            let meta = std::fs::symlink_metadata(dir.join("a.txt")).expect("meta");
            assert_eq!(meta.file_type().is_symlink(), method == FilesystemMethod::Symlink, "{method:?}");
            if method == FilesystemMethod::Hardlink {
                use std::os::unix::fs::MetadataExt;
                assert!(meta.nlink() >= 2, "hard-linked");
            }
            // A directory holding data is refused.
            let err = filesystem_export(&app, &dir, method, &FilesystemSource::RepositoryVersion(v1.clone()), None)
                .await
                .expect_err("not clean");
            assert!(err.to_string().contains("existing data"), "{err}");
        }
        let v2 = add_files(&app, repo.pulp_id(), &[("c.txt", b"gamma".to_vec())]).await;
        let dir = t.dir.path().join("fs-incremental");
        let written = filesystem_export(&app, &dir, FilesystemMethod::Write, &FilesystemSource::RepositoryVersion(v2), Some(&v1))
            .await
            .expect("incremental");
        assert_eq!(written, vec!["c.txt".to_string()]);
        assert_eq!(walk(&dir), 1);
    }
}

async fn repository_id(app: &App, name: &str) -> PulpId {
    pulp_plugin_api::on_pool!(app.db(), pool => {
        pulp_plugin_api::deps::sqlx::query_scalar("SELECT pulp_id FROM core_repository WHERE name = $1")
            .bind(name).fetch_one(pool).await.expect("repository")
    })
}

use std::os::unix::fs::PermissionsExt;

/// Copies a tar, changing entries' bytes through `edit(name, bytes)`.
fn rewrite_tar(from: &Path, to: &Path, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let bytes = std::fs::read(from).expect("tar");
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut builder = tar::Builder::new(std::fs::File::create(to).expect("create"));
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
        let data = edit(&name, data);
        let mut header = entry.header().clone();
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, &name, data.as_slice())
            .expect("append");
    }
    builder.finish().expect("finish");
}

#[test]
fn paths_are_checked_against_the_allowed_ones_after_resolving_links() {
    let dir = tempfile::tempdir().expect("tmp");
    let allowed = dir.path().join("allowed");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&allowed).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::os::unix::fs::symlink(&outside, allowed.join("link")).expect("symlink");
    let settings = Settings {
        allowed_export_paths: vec![allowed.clone()],
        ..Settings::default()
    };
    let ok = |p: &Path| allowed_path(&settings, PathKind::Export, &p.to_string_lossy());
    assert!(ok(&allowed.join("new/dir")).is_ok());
    assert!(ok(&allowed).is_ok());
    let err = ok(&outside).expect_err("outside");
    assert!(
        err.to_string().contains("is not an allowed export path"),
        "{err}"
    );
    assert!(
        ok(&allowed.join("link/x")).is_err(),
        "a link leading outside"
    );
    assert!(ok(&allowed.join("../outside")).is_err());
    assert!(allowed_path(&settings, PathKind::Export, "relative/path").is_err());
    // Nothing is allowed by default.
    let none = Settings::default();
    assert!(allowed_path(&none, PathKind::Import, &allowed.to_string_lossy()).is_err());
}

//! The types of objects roles can be assigned on, and finding an object from its href or PRN.

use super::ObjectRef;
use crate::plugin::DetailType;

/// A type of object roles are assigned on: its viewset (whose policy's creation hooks run
/// when one is created) and content type (`file.filerepository`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectType {
    /// The viewset serving it (`repositories/file/file`), also its path below the API root.
    pub viewset: String,
    /// `app_label.model`.
    pub content_type: String,
}

/// pulp-core's own types of objects with roles.
const CORE_TYPES: &[(&str, &str)] = &[
    ("tasks", "core.task"),
    ("task-groups", "core.taskgroup"),
    ("uploads", "core.upload"),
    ("groups", "core.group"),
    ("upstream-pulps", "core.upstreampulp"),
];

/// Every type of object with roles: pulp-core's and the declared detail types.
pub fn object_types(details: &[DetailType]) -> Vec<ObjectType> {
    CORE_TYPES
        .iter()
        .map(|(viewset, content_type)| ObjectType {
            viewset: viewset.to_string(),
            content_type: content_type.to_string(),
        })
        .chain(details.iter().map(|d| ObjectType {
            viewset: format!("{}/{}", d.kind_endpoint, d.endpoint),
            content_type: d.prn_model.to_string(),
        }))
        .collect()
}

/// The object an href (`/pulp/api/v3/repositories/file/file/<id>/`) or PRN
/// (`prn:file.filerepository:<id>`) names, with its type; `None` when it names none of
/// `object_types` (a repository version, a malformed string).
pub fn object_of_href(details: &[DetailType], href: &str) -> Option<(ObjectType, ObjectRef)> {
    let types = object_types(details);
    if let Some(rest) = href.strip_prefix("prn:") {
        let (content_type, id) = rest.split_once(':')?;
        let found = types.into_iter().find(|t| t.content_type == content_type)?;
        let object = ObjectRef {
            content_type: found.content_type.clone(),
            object_id: valid_id(id)?,
        };
        return Some((found, object));
    }
    let (_, path) = href.split_once("/api/v3/")?;
    let path = path.strip_suffix('/')?;
    let (viewset, id) = path.rsplit_once('/')?;
    let found = types.into_iter().find(|t| t.viewset == viewset)?;
    let object = ObjectRef {
        content_type: found.content_type.clone(),
        object_id: valid_id(id)?,
    };
    Some((found, object))
}

/// A UUID in its hyphenated form, or a group's number.
fn valid_id(id: &str) -> Option<String> {
    if let Ok(uuid) = uuid::Uuid::parse_str(id) {
        return Some(uuid.hyphenated().to_string());
    }
    id.parse::<i64>().ok().map(|n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_and_prns_name_objects_of_known_types() {
        let details = [DetailType {
            pulp_type: "file.file",
            master_table: "core_repository",
            kind_endpoint: "repositories",
            endpoint: "file/file",
            table: "file_filerepository",
            prn_model: "file.filerepository",
            owner: "file".into(),
            href_param: "",
        }];
        let id = "0190c5a3-0000-7000-8000-000000000001";
        let (t, o) = object_of_href(
            &details,
            &format!("/pulp/api/v3/repositories/file/file/{id}/"),
        )
        .expect("a repository");
        assert_eq!(t.viewset, "repositories/file/file");
        assert_eq!(o.content_type, "file.filerepository");
        assert_eq!(o.object_id, id);
        let (_, o) =
            object_of_href(&details, &format!("prn:file.filerepository:{id}")).expect("prn");
        assert_eq!(o.object_id, id);
        let (t, o) = object_of_href(&details, "/pulp/api/v3/groups/7/").expect("a group");
        assert_eq!(
            (t.content_type.as_str(), o.object_id.as_str()),
            ("core.group", "7")
        );
        assert!(object_of_href(
            &details,
            &format!("/pulp/api/v3/repositories/file/file/{id}/versions/1/")
        )
        .is_none());
        assert!(object_of_href(&details, "/pulp/api/v3/groups/x/").is_none());
        assert!(object_of_href(&details, "/pulp/api/v3/remotes/file/file/1/").is_none());
    }
}

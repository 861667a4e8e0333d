//! `#[derive(Detail)]`: a pulp-rs detail type's constants, columns and table from its struct.
//!
//! Use it through `pulp_plugin_api::Detail` (the generated code names items of
//! `pulp_plugin_api` only). See that crate's documentation for the attributes.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, LitStr, PathArguments, Type};

/// Derives `Detail` (and `ContentDetail` for content) and `DetailTable` (its table's DDL on
/// SQLite and PostgreSQL). See `pulp_plugin_api::Detail`.
#[proc_macro_derive(Detail, attributes(pulp))]
pub fn derive_detail(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The SQL type of a column (pulp-core's `ColumnType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Text,
    Int,
    Float,
    Bool,
    Json,
    Id,
    Time,
}

impl ColumnType {
    fn parse(ident: &Ident) -> syn::Result<Self> {
        Ok(match ident.to_string().as_str() {
            "text" => Self::Text,
            "int" => Self::Int,
            "float" => Self::Float,
            "bool" => Self::Bool,
            "json" => Self::Json,
            "id" => Self::Id,
            "time" => Self::Time,
            other => {
                return Err(syn::Error::new(
                    ident.span(),
                    format!(
                        "unknown column type `{other}`: text, int, float, bool, json, id or time"
                    ),
                ))
            }
        })
    }

    /// The column's type as Rust's type names suggest; `None` when they do not.
    fn infer(name: &str) -> Option<Self> {
        Some(match name {
            "String" | "str" => Self::Text,
            "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "isize" | "usize" => {
                Self::Int
            }
            "f32" | "f64" => Self::Float,
            "bool" => Self::Bool,
            "PulpId" | "Uuid" => Self::Id,
            "DateTime" => Self::Time,
            "Value" | "Vec" | "HashMap" | "BTreeMap" | "Map" | "HashSet" | "BTreeSet" => Self::Json,
            _ => return None,
        })
    }

    fn constructor(self) -> Ident {
        let name = match self {
            Self::Text => "text",
            Self::Int => "int",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::Json => "json",
            Self::Id => "id",
            Self::Time => "time",
        };
        Ident::new(name, Span::call_site())
    }

    fn sql(self, backend: Backend) -> &'static str {
        match (self, backend) {
            (Self::Text, _) => "TEXT",
            (Self::Int, _) => "BIGINT",
            (Self::Float, Backend::Sqlite) => "REAL",
            (Self::Float, Backend::Postgres) => "DOUBLE PRECISION",
            (Self::Bool, _) => "BOOLEAN",
            (Self::Json, Backend::Sqlite) => "TEXT",
            (Self::Json, Backend::Postgres) => "JSONB",
            (Self::Id, Backend::Sqlite) => "TEXT",
            (Self::Id, Backend::Postgres) => "UUID",
            (Self::Time, Backend::Sqlite) => "TEXT",
            (Self::Time, Backend::Postgres) => "TIMESTAMPTZ",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A master kind: its type in pulp-core and its table (pulp-core's `MasterKind::TABLE`; a
/// test in pulp-plugin-api checks that they agree).
fn kind_of(ident: &Ident) -> syn::Result<(&'static str, &'static str)> {
    Ok(match ident.to_string().as_str() {
        "content" => ("ContentKind", "core_content"),
        "remote" => ("RemoteKind", "core_remote"),
        "repository" => ("RepositoryKind", "core_repository"),
        "publication" => ("PublicationKind", "core_publication"),
        "distribution" => ("DistributionKind", "core_distribution"),
        "content_guard" => ("ContentGuardKind", "core_contentguard"),
        other => {
            return Err(syn::Error::new(
                ident.span(),
                format!("unknown kind `{other}`: content, remote, repository, publication, distribution or content_guard"),
            ))
        }
    })
}

struct Column {
    name: String,
    ty: ColumnType,
    nullable: bool,
    index: bool,
}

#[derive(Default)]
struct TypeAttrs {
    kind: Option<Ident>,
    pulp_type: Option<LitStr>,
    table: Option<LitStr>,
    endpoint: Option<LitStr>,
    prn_model: Option<LitStr>,
    natural_key: Vec<Ident>,
    repo_key: Vec<Ident>,
    filters: Vec<(String, Ident)>,
    api_response: Option<syn::Path>,
}

fn idents(meta: &syn::meta::ParseNestedMeta<'_>, into: &mut Vec<Ident>) -> syn::Result<()> {
    meta.parse_nested_meta(|inner| {
        into.push(inner.path.require_ident()?.clone());
        Ok(())
    })
}

fn type_attrs(input: &DeriveInput) -> syn::Result<TypeAttrs> {
    let mut attrs = TypeAttrs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("pulp")) {
        attr.parse_nested_meta(|meta| {
            let key = meta.path.require_ident()?.to_string();
            match key.as_str() {
                "kind" => attrs.kind = Some(meta.value()?.parse()?),
                "pulp_type" => attrs.pulp_type = Some(meta.value()?.parse()?),
                "table" => attrs.table = Some(meta.value()?.parse()?),
                "endpoint" => attrs.endpoint = Some(meta.value()?.parse()?),
                "prn_model" => attrs.prn_model = Some(meta.value()?.parse()?),
                "api_response" => attrs.api_response = Some(meta.value()?.parse()?),
                "natural_key" => idents(&meta, &mut attrs.natural_key)?,
                "repo_key" => idents(&meta, &mut attrs.repo_key)?,
                "filter" => meta.parse_nested_meta(|inner| {
                    let parameter = inner.path.require_ident()?.clone();
                    let column = if inner.input.peek(syn::Token![=]) {
                        inner.value()?.parse::<Ident>()?
                    } else {
                        parameter.clone()
                    };
                    attrs.filters.push((parameter.to_string(), column));
                    Ok(())
                })?,
                _ => return Err(meta.error(format!("unknown attribute `{key}`"))),
            }
            Ok(())
        })?;
    }
    Ok(attrs)
}

/// `Option<T>` → `(T, true)`; anything else `(ty, false)`.
fn unwrap_option(ty: &Type) -> (&Type, bool) {
    if let Type::Path(path) = ty {
        if let Some(last) = path.path.segments.last() {
            if last.ident == "Option" {
                if let PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(GenericArgument::Type(inner)) = args.args.first() {
                        return (inner, true);
                    }
                }
            }
        }
    }
    (ty, false)
}

fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(r) => type_name(&r.elem),
        _ => None,
    }
}

fn columns(input: &DeriveInput) -> syn::Result<Vec<Column>> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "#[derive(Detail)] needs a struct",
        ));
    };
    let fields = match &data.fields {
        Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(_) => {
            return Err(syn::Error::new(
                data.fields.span(),
                "#[derive(Detail)] needs named fields (they are the columns)",
            ))
        }
    };
    let mut out = Vec::new();
    for field in fields {
        let Some(ident) = &field.ident else { continue };
        let (inner, nullable) = unwrap_option(&field.ty);
        let mut ty = None;
        let mut index = false;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("pulp")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("index") {
                    index = true;
                } else if meta.path.is_ident("column") {
                    ty = Some(ColumnType::parse(&meta.value()?.parse::<Ident>()?)?);
                } else {
                    return Err(meta.error("unknown field attribute: `index` or `column = <type>`"));
                }
                Ok(())
            })?;
        }
        let ty = match ty.or_else(|| type_name(inner).and_then(|n| ColumnType::infer(&n))) {
            Some(ty) => ty,
            None => {
                return Err(syn::Error::new(
                    field.ty.span(),
                    "cannot tell this field's column type: add #[pulp(column = text|int|float|bool|json|id|time)]",
                ))
            }
        };
        let name = ident.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name).to_string();
        out.push(Column {
            name,
            ty,
            nullable,
            index,
        });
    }
    Ok(out)
}

fn check_sql_name(lit: &LitStr) -> syn::Result<String> {
    let value = lit.value();
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !value.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(value)
    } else {
        Err(syn::Error::new(
            lit.span(),
            "a table name is lower-case letters, digits and `_`",
        ))
    }
}

fn ddl(
    backend: Backend,
    table: &str,
    master: &str,
    content: bool,
    columns: &[Column],
    natural_key: &[String],
) -> String {
    let id = ColumnType::Id.sql(backend);
    let mut lines = vec![format!(
        "    pulp_id {id} PRIMARY KEY REFERENCES {master} (pulp_id) ON DELETE CASCADE"
    )];
    if content {
        lines.push("    pulp_domain TEXT NOT NULL".to_string());
    }
    for c in columns {
        let null = if c.nullable { "" } else { " NOT NULL" };
        lines.push(format!("    {} {}{null}", c.name, c.ty.sql(backend)));
    }
    if content {
        lines.push(format!(
            "    UNIQUE ({}, pulp_domain)",
            natural_key.join(", ")
        ));
    }
    let mut sql = format!("CREATE TABLE {table} (\n{}\n);\n", lines.join(",\n"));
    for c in columns.iter().filter(|c| c.index) {
        sql.push_str(&format!(
            "CREATE INDEX {table}_{0} ON {table} ({0});\n",
            c.name
        ));
    }
    if content && backend == Backend::Postgres {
        // Bulk saves insert thousands of detail rows per statement: pulp-core's set-based
        // reference checks them once per statement instead of once per row (as core's own
        // content tables do, migration 0009).
        sql.push_str(&format!(
            "SELECT pulp_set_based_reference('{table}', 'pulp_id', '{master}', '{table}_pulp_id_fkey');\n"
        ));
    }
    sql
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let attrs = type_attrs(input)?;
    let columns = columns(input)?;
    let name = &input.ident;
    let missing = |what: &str| {
        syn::Error::new(
            input.ident.span(),
            format!("#[derive(Detail)] needs #[pulp({what} = …)]"),
        )
    };
    let kind = attrs.kind.as_ref().ok_or_else(|| missing("kind"))?;
    let (kind_type, master) = kind_of(kind)?;
    let content = master == "core_content";
    let pulp_type = attrs
        .pulp_type
        .as_ref()
        .ok_or_else(|| missing("pulp_type"))?;
    let table_lit = attrs.table.as_ref().ok_or_else(|| missing("table"))?;
    let table = check_sql_name(table_lit)?;
    let endpoint = attrs.endpoint.as_ref().ok_or_else(|| missing("endpoint"))?;
    // Pulp's PRNs name `<app label>.<model>`: by default the pulp_type's plugin and the
    // struct's name in lower case (`file.file` + FileContent → `file.filecontent`).
    let prn_model = match &attrs.prn_model {
        Some(lit) => lit.value(),
        None => {
            let app = pulp_type.value();
            let app = app.split('.').next().unwrap_or_default().to_string();
            format!("{app}.{}", name.to_string().to_lowercase())
        }
    };
    let field = |ident: &Ident| -> syn::Result<String> {
        let wanted = ident.to_string();
        if columns.iter().any(|c| c.name == wanted) {
            Ok(wanted)
        } else {
            Err(syn::Error::new(
                ident.span(),
                format!("`{wanted}` is not a field of {name}"),
            ))
        }
    };
    let natural_key = attrs
        .natural_key
        .iter()
        .map(field)
        .collect::<syn::Result<Vec<_>>>()?;
    let repo_key = attrs
        .repo_key
        .iter()
        .map(field)
        .collect::<syn::Result<Vec<_>>>()?;
    let filters = attrs
        .filters
        .iter()
        .map(|(parameter, column)| Ok((parameter.clone(), field(column)?)))
        .collect::<syn::Result<Vec<_>>>()?;
    if content && natural_key.is_empty() {
        return Err(syn::Error::new(
            kind.span(),
            "a content type needs #[pulp(natural_key(field, …))]: units are unique by it",
        ));
    }
    if !content && (!natural_key.is_empty() || !repo_key.is_empty()) {
        return Err(syn::Error::new(
            kind.span(),
            "natural_key and repo_key are for content types (kind = content)",
        ));
    }

    let sqlite = ddl(
        Backend::Sqlite,
        &table,
        master,
        content,
        &columns,
        &natural_key,
    );
    let postgres = ddl(
        Backend::Postgres,
        &table,
        master,
        content,
        &columns,
        &natural_key,
    );
    let root = quote!(::pulp_plugin_api::__derive);
    let kind_ident = Ident::new(kind_type, Span::call_site());
    let column_tokens = columns.iter().map(|c| {
        let constructor = c.ty.constructor();
        let column = &c.name;
        quote!(#root::Column::#constructor(#column))
    });
    let filter_tokens = filters
        .iter()
        .map(|(parameter, column)| quote!((#parameter, #column)));
    let api_filters = if filters.is_empty() {
        quote!()
    } else {
        quote!(const API_FILTERS: &'static [(&'static str, &'static str)] = &[#(#filter_tokens),*];)
    };
    let api_response = attrs.api_response.as_ref().map(|path| {
        quote! {
            fn api_response(response: &mut #root::serde_json::Map<::std::string::String, #root::serde_json::Value>) {
                #path(response)
            }
        }
    });
    let content_impl = content.then(|| {
        quote! {
            impl #root::ContentDetail for #name {
                const NATURAL_KEY: &'static [&'static str] = &[#(#natural_key),*];
                const REPO_KEY: &'static [&'static str] = &[#(#repo_key),*];
            }
        }
    });
    Ok(quote! {
        impl #root::Detail for #name {
            type Kind = #root::#kind_ident;
            const PULP_TYPE: &'static str = #pulp_type;
            const TABLE: &'static str = #table;
            const COLUMNS: &'static [#root::Column] = &[#(#column_tokens),*];
            const PRN_MODEL: &'static str = #prn_model;
            const ENDPOINT: &'static str = #endpoint;
            #api_filters
            #api_response
        }
        #content_impl
        impl #root::DetailTable for #name {
            const SQLITE_DDL: &'static str = #sqlite;
            const POSTGRES_DDL: &'static str = #postgres;
        }
    })
}

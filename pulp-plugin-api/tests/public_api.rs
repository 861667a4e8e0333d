//! The plugin API's public surface, compared with the checked-in `public-api.txt`.
//!
//! `src/lib.rs` is read with `syn`: every item it exports is followed to its definition in
//! pulp-core's sources and written as one line per item, field, variant, method and trait
//! impl, with its signature. A change of the surface (an item added or removed, a
//! signature changed in pulp-core) fails this test with the lines that differ; when the
//! change is meant, regenerate the file and commit it with the change:
//! `UPDATE_PUBLIC_API=1 cargo test -p pulp-plugin-api --test public_api`.
//! The test also refuses glob re-exports and exported items without a doc comment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::{Attribute, Fields, ImplItem, Item, TraitItem, UseTree, Visibility};

const HEADER: &str = "\
# The public surface of pulp-plugin-api, one line per item (tests/public_api.rs).
# Lines marked (feature testing) exist only with the `testing` feature.
# Regenerate after a deliberate change:
#   UPDATE_PUBLIC_API=1 cargo test -p pulp-plugin-api --test public_api
";

#[test]
fn the_public_surface_matches_the_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let facade = parse(&root.join("src/lib.rs"));
    let core = Crate::load(&root.join("../pulp-core/src"));
    let mut surface = Surface::default();
    surface.walk(&facade.items, "pulp_plugin_api", false, &core);

    assert!(
        surface.globs.is_empty(),
        "pulp-plugin-api must name what it exports; glob re-exports: {:?}",
        surface.globs
    );
    assert!(
        surface.unresolved.is_empty(),
        "re-exports this test could not follow into pulp-core (teach `Crate::resolve`): {:?}",
        surface.unresolved
    );
    assert!(
        surface.undocumented.is_empty(),
        "exported items without a doc comment (document them where they are defined): {:?}",
        surface.undocumented
    );

    let actual: BTreeSet<String> = surface.lines;
    let path = root.join("public-api.txt");
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        let mut text = HEADER.to_string();
        for line in &actual {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&path, text).expect("write public-api.txt");
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    let expected: BTreeSet<String> = stored
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let removed: Vec<_> = expected.difference(&actual).collect();
    let added: Vec<_> = actual.difference(&expected).collect();
    if !removed.is_empty() || !added.is_empty() {
        let mut diff = String::new();
        for line in &removed {
            diff.push_str(&format!("- {line}\n"));
        }
        for line in &added {
            diff.push_str(&format!("+ {line}\n"));
        }
        panic!(
            "the plugin API changed ({} lines removed, {} added):\n{diff}\nIf this is meant, \
             follow docs/plugin-api.md (deprecate before removing) and regenerate the \
             snapshot: UPDATE_PUBLIC_API=1 cargo test -p pulp-plugin-api --test public_api",
            removed.len(),
            added.len()
        );
    }
}

fn parse(path: &Path) -> syn::File {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One module of pulp-core: its items and the file they are in.
struct Module {
    file: PathBuf,
    items: Vec<Item>,
}

/// pulp-core's modules by path (`["models", "artifact"]`), its exported macros and its
/// impl blocks by the name of the type they are for.
struct Crate {
    modules: BTreeMap<Vec<String>, Module>,
    macros: BTreeMap<String, syn::ItemMacro>,
    impls: BTreeMap<String, Vec<(PathBuf, syn::ItemImpl)>>,
    /// Type names defined in more than one module (their impls are matched by file).
    ambiguous: BTreeSet<String>,
}

impl Crate {
    fn load(src: &Path) -> Crate {
        let mut krate = Crate {
            modules: BTreeMap::new(),
            macros: BTreeMap::new(),
            impls: BTreeMap::new(),
            ambiguous: BTreeSet::new(),
        };
        let lib = src.join("lib.rs");
        let file = parse(&lib);
        krate.add_module(Vec::new(), lib, src.to_path_buf(), file.items);
        let mut seen = BTreeSet::new();
        for module in krate.modules.values() {
            for item in &module.items {
                let name = match item {
                    Item::Struct(i) => &i.ident,
                    Item::Enum(i) => &i.ident,
                    Item::Union(i) => &i.ident,
                    _ => continue,
                };
                if !seen.insert(name.to_string()) {
                    krate.ambiguous.insert(name.to_string());
                }
            }
        }
        krate
    }

    /// Adds a module and, recursively, its child modules (`dir` holds their files).
    fn add_module(&mut self, path: Vec<String>, file: PathBuf, dir: PathBuf, items: Vec<Item>) {
        for item in &items {
            match item {
                Item::Mod(m) if !is_cfg_test(&m.attrs) => {
                    let mut child = path.clone();
                    child.push(m.ident.to_string());
                    let name = m.ident.to_string();
                    match &m.content {
                        Some((_, inline)) => {
                            self.add_module(child, file.clone(), dir.join(&name), inline.clone())
                        }
                        None => {
                            let flat = dir.join(format!("{name}.rs"));
                            let (child_file, child_dir) = if flat.exists() {
                                (flat, dir.join(&name))
                            } else {
                                (dir.join(&name).join("mod.rs"), dir.join(&name))
                            };
                            let parsed = parse(&child_file);
                            self.add_module(child, child_file, child_dir, parsed.items);
                        }
                    }
                }
                Item::Macro(m) if m.attrs.iter().any(|a| a.path().is_ident("macro_export")) => {
                    if let Some(ident) = &m.ident {
                        self.macros.insert(ident.to_string(), m.clone());
                    }
                }
                Item::Impl(i) if !is_cfg_test(&i.attrs) => {
                    if let Some(name) = type_name(&i.self_ty) {
                        self.impls
                            .entry(name)
                            .or_default()
                            .push((file.clone(), i.clone()));
                    }
                }
                _ => {}
            }
        }
        self.modules.insert(path, Module { file, items });
    }

    /// The definitions `name` stands for in module `module`, following `use` chains.
    fn resolve(&self, module: &[String], name: &str, depth: usize) -> Vec<Resolved<'_>> {
        let mut found = Vec::new();
        if depth > 16 {
            return found;
        }
        let Some(m) = self.modules.get(module) else {
            return found;
        };
        for item in &m.items {
            if item_name(item).as_deref() == Some(name) && exported(item) {
                found.push(Resolved::Item(item, &m.file));
            }
            if let Item::Macro(mac) = item {
                if mac.ident.is_none() && first_ident(&mac.mac.tokens).as_deref() == Some(name) {
                    let macro_name = tidy(&mac.mac.path);
                    let documented = names_ident(&mac.mac.tokens, "doc");
                    found.push(Resolved::MacroMade(macro_name, &m.file, documented));
                }
            }
            if let Item::Use(u) = item {
                if matches!(u.vis, Visibility::Inherited) {
                    continue;
                }
                let mut leaves = Vec::new();
                use_leaves(&u.tree, Vec::new(), &mut leaves);
                for (target, alias) in leaves {
                    if alias == name {
                        found.extend(self.resolve_path(module, &target, depth + 1));
                    } else if alias == "*" {
                        let mut glob = target.clone();
                        glob.push(name.to_string());
                        found.extend(self.resolve_path(module, &glob, depth + 1));
                    }
                }
            }
        }
        if module.is_empty() {
            if let Some(mac) = self.macros.get(name) {
                found.push(Resolved::Macro(mac));
            }
        }
        found
    }

    /// Resolves a `use` path written in module `from`.
    fn resolve_path(&self, from: &[String], path: &[String], depth: usize) -> Vec<Resolved<'_>> {
        let Some((last, init)) = path.split_last() else {
            return Vec::new();
        };
        let mut module: Vec<String> = from.to_vec();
        for (i, segment) in init.iter().enumerate() {
            match segment.as_str() {
                "crate" if i == 0 => module.clear(),
                "self" => {}
                "super" => {
                    module.pop();
                }
                _ => {
                    let mut child = module.clone();
                    child.push(segment.clone());
                    if self.modules.contains_key(&child) {
                        module = child;
                    } else if i == 0 {
                        return vec![Resolved::External(path.join("::"))];
                    } else {
                        return Vec::new();
                    }
                }
            }
        }
        if init.is_empty()
            && !self
                .modules
                .contains_key(&[from, std::slice::from_ref(last)].concat())
        {
            // `pub use axum;`: a crate, unless a sibling item has that name.
            let local = self.resolve(&module, last, depth);
            if local.is_empty() {
                return vec![Resolved::External(last.clone())];
            }
            return local;
        }
        self.resolve(&module, last, depth)
    }
}

/// What an exported name stands for.
enum Resolved<'a> {
    Item(&'a Item, &'a PathBuf),
    /// Made by a local macro's invocation (`kind!(… ContentKind …)`): its name and file.
    MacroMade(String, &'a PathBuf, bool),
    Macro(&'a syn::ItemMacro),
    External(String),
}

/// The facade's exported lines, and what is wrong with it.
#[derive(Default)]
struct Surface {
    lines: BTreeSet<String>,
    globs: Vec<String>,
    unresolved: Vec<String>,
    undocumented: Vec<String>,
}

impl Surface {
    fn walk(&mut self, items: &[Item], prefix: &str, testing: bool, core: &Crate) {
        for item in items {
            let gated = testing || is_cfg_testing(item_attrs(item));
            match item {
                Item::Mod(m) if matches!(m.vis, Visibility::Public(_)) => {
                    if is_doc_hidden(&m.attrs) {
                        continue;
                    }
                    let path = format!("{prefix}::{}", m.ident);
                    self.add(&path, "mod".into(), gated);
                    if let Some((_, inner)) = &m.content {
                        self.walk(inner, &path, gated, core);
                    }
                }
                Item::Use(u) if matches!(u.vis, Visibility::Public(_)) => {
                    let mut leaves = Vec::new();
                    use_leaves(&u.tree, Vec::new(), &mut leaves);
                    for (target, alias) in leaves {
                        let path = format!("{prefix}::{alias}");
                        if alias == "*" {
                            self.globs
                                .push(format!("{path} (from {})", target.join("::")));
                            continue;
                        }
                        let documented_here = has_doc(&u.attrs);
                        self.re_export(&path, &target, documented_here, gated, core);
                    }
                }
                _ if matches!(item_vis(item), Some(Visibility::Public(_))) => {
                    let name = item_name(item).unwrap_or_default();
                    self.unresolved
                        .push(format!("{prefix}::{name} (defined in the facade)"));
                }
                _ => {}
            }
        }
    }

    fn re_export(
        &mut self,
        path: &str,
        target: &[String],
        documented_here: bool,
        gated: bool,
        core: &Crate,
    ) {
        match target.first().map(String::as_str) {
            Some("pulp_core") => {
                let resolved = core.resolve_path(&[], &target[1..], 0);
                if resolved.is_empty() {
                    self.unresolved
                        .push(format!("{path} = {}", target.join("::")));
                }
                for r in resolved {
                    match r {
                        Resolved::MacroMade(mac, file, documented) => {
                            if !documented_here && !documented {
                                self.undocumented.push(path.to_string());
                            }
                            self.add(path, format!("item made by {mac}!"), gated);
                            let name = target.last().cloned().unwrap_or_default();
                            self.impls(path, &name, file, gated, core);
                        }
                        Resolved::Item(item, file) => {
                            if !documented_here && !has_doc(item_attrs(item)) {
                                self.undocumented.push(path.to_string());
                            }
                            self.item(path, item, file, gated, core);
                        }
                        Resolved::Macro(mac) => {
                            if !documented_here && !has_doc(&mac.attrs) {
                                self.undocumented.push(path.to_string());
                            }
                            self.add(path, "macro".into(), gated);
                        }
                        Resolved::External(krate) => {
                            self.add(path, format!("crate {krate}"), gated);
                        }
                    }
                }
            }
            Some("pulp_plugin_api_derive") => {
                self.add(path, "derive macro (pulp-plugin-api-derive)".into(), gated)
            }
            _ => self
                .unresolved
                .push(format!("{path} = {}", target.join("::"))),
        }
    }

    fn add(&mut self, path: &str, what: String, gated: bool) {
        let feature = if gated { " (feature testing)" } else { "" };
        self.lines.insert(format!("{path}: {what}{feature}"));
    }

    /// The lines of one item (and of its fields, variants, methods and impls).
    fn item(&mut self, path: &str, item: &Item, file: &Path, gated: bool, core: &Crate) {
        match item {
            Item::Struct(s) => {
                let derives = derives(&s.attrs);
                self.add(path, format!("struct{}{derives}", tidy(&s.generics)), gated);
                self.fields(path, &s.fields, gated);
                self.impls(path, &s.ident.to_string(), file, gated, core);
            }
            Item::Enum(e) => {
                let derives = derives(&e.attrs);
                self.add(path, format!("enum{}{derives}", tidy(&e.generics)), gated);
                for v in &e.variants {
                    let mut fields = v.fields.clone();
                    strip_field_attrs(&mut fields);
                    let shape = if matches!(fields, Fields::Unit) {
                        String::new()
                    } else {
                        format!(" {}", tidy(&fields))
                    };
                    self.add(
                        &format!("{path}::{}", v.ident),
                        format!("variant{shape}"),
                        gated,
                    );
                }
                self.impls(path, &e.ident.to_string(), file, gated, core);
            }
            Item::Fn(f) => self.add(path, signature(&f.sig), gated),
            Item::Trait(t) => {
                let supertraits = if t.supertraits.is_empty() {
                    String::new()
                } else {
                    format!(": {}", tidy(&t.supertraits))
                };
                self.add(
                    path,
                    format!("trait{}{supertraits}", tidy(&t.generics)),
                    gated,
                );
                for ti in &t.items {
                    match ti {
                        TraitItem::Fn(f) => {
                            let default = if f.default.is_some() {
                                " (provided)"
                            } else {
                                ""
                            };
                            self.add(
                                &format!("{path}::{}", f.sig.ident),
                                format!("{}{default}", signature(&f.sig)),
                                gated,
                            );
                        }
                        TraitItem::Const(c) => self.add(
                            &format!("{path}::{}", c.ident),
                            format!("const: {}", tidy(&c.ty)),
                            gated,
                        ),
                        TraitItem::Type(ty) => self.add(
                            &format!("{path}::{}", ty.ident),
                            format!("type{}: {}", tidy(&ty.generics), tidy(&ty.bounds)),
                            gated,
                        ),
                        _ => {}
                    }
                }
            }
            Item::Type(t) => self.add(
                path,
                format!("type{} = {}", tidy(&t.generics), tidy(&t.ty)),
                gated,
            ),
            Item::Const(c) => self.add(path, format!("const: {}", tidy(&c.ty)), gated),
            Item::Static(s) => self.add(path, format!("static: {}", tidy(&s.ty)), gated),
            Item::Mod(_) => self.add(path, "mod (whole module re-exported)".into(), gated),
            other => self.add(path, format!("item {}", tidy(other)), gated),
        }
    }

    fn fields(&mut self, path: &str, fields: &Fields, gated: bool) {
        let mut hidden = false;
        for (i, field) in fields.iter().enumerate() {
            if !matches!(field.vis, Visibility::Public(_)) {
                hidden = true;
                continue;
            }
            let name = field
                .ident
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| i.to_string());
            self.add(
                &format!("{path}::{name}"),
                format!("field: {}", tidy(&field.ty)),
                gated,
            );
        }
        if hidden {
            self.add(path, "has private fields".into(), gated);
        }
    }

    /// The public methods and constants of `name`'s inherent impls, and its trait impls.
    fn impls(&mut self, path: &str, name: &str, file: &Path, gated: bool, core: &Crate) {
        let Some(impls) = core.impls.get(name) else {
            return;
        };
        for (impl_file, i) in impls {
            if core.ambiguous.contains(name) && impl_file != file {
                continue;
            }
            let generics = tidy(&i.generics);
            if let Some((negative, trait_path, _)) = &i.trait_ {
                let bang = if negative.is_some() { "!" } else { "" };
                self.add(
                    path,
                    format!("impl{generics} {bang}{}", tidy(trait_path)),
                    gated,
                );
                continue;
            }
            for ii in &i.items {
                match ii {
                    ImplItem::Fn(f) if matches!(f.vis, Visibility::Public(_)) => {
                        if is_doc_hidden(&f.attrs) {
                            continue;
                        }
                        let on = if generics.is_empty() {
                            String::new()
                        } else {
                            format!(" (impl{generics})")
                        };
                        self.add(
                            &format!("{path}::{}", f.sig.ident),
                            format!("{}{on}", signature(&f.sig)),
                            gated,
                        );
                    }
                    ImplItem::Const(c) if matches!(c.vis, Visibility::Public(_)) => self.add(
                        &format!("{path}::{}", c.ident),
                        format!("const: {}", tidy(&c.ty)),
                        gated,
                    ),
                    _ => {}
                }
            }
        }
    }
}

/// `use` tree leaves: (the path, the name it is bound to; `*` for a glob).
fn use_leaves(tree: &UseTree, mut prefix: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_leaves(&p.tree, prefix, out);
        }
        UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                let alias = prefix.last().cloned().unwrap_or_default();
                out.push((prefix, alias));
            } else {
                prefix.push(name.clone());
                out.push((prefix, name));
            }
        }
        UseTree::Rename(r) => {
            prefix.push(r.ident.to_string());
            out.push((prefix, r.rename.to_string()));
        }
        UseTree::Glob(_) => out.push((prefix, "*".into())),
        UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix.clone(), out);
            }
        }
    }
}

/// The first identifier of a macro's input, past its attributes (what `kind!(/// … Name, …)`
/// defines).
fn first_ident(tokens: &proc_macro2::TokenStream) -> Option<String> {
    tokens.clone().into_iter().find_map(|t| match t {
        proc_macro2::TokenTree::Ident(i) => Some(i.to_string()),
        _ => None,
    })
}

/// Whether `tokens` hold the identifier `name` (at any depth).
fn names_ident(tokens: &proc_macro2::TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == name,
        proc_macro2::TokenTree::Group(g) => names_ident(&g.stream(), name),
        _ => false,
    })
}

fn item_name(item: &Item) -> Option<String> {
    Some(match item {
        Item::Struct(i) => i.ident.to_string(),
        Item::Enum(i) => i.ident.to_string(),
        Item::Union(i) => i.ident.to_string(),
        Item::Fn(i) => i.sig.ident.to_string(),
        Item::Trait(i) => i.ident.to_string(),
        Item::Type(i) => i.ident.to_string(),
        Item::Const(i) => i.ident.to_string(),
        Item::Static(i) => i.ident.to_string(),
        Item::Mod(i) => i.ident.to_string(),
        Item::Macro(i) => i.ident.as_ref()?.to_string(),
        _ => return None,
    })
}

fn item_vis(item: &Item) -> Option<&Visibility> {
    Some(match item {
        Item::Struct(i) => &i.vis,
        Item::Enum(i) => &i.vis,
        Item::Union(i) => &i.vis,
        Item::Fn(i) => &i.vis,
        Item::Trait(i) => &i.vis,
        Item::Type(i) => &i.vis,
        Item::Const(i) => &i.vis,
        Item::Static(i) => &i.vis,
        Item::Mod(i) => &i.vis,
        Item::Use(i) => &i.vis,
        _ => return None,
    })
}

/// Whether a definition can be re-exported from outside its module.
fn exported(item: &Item) -> bool {
    !matches!(item_vis(item), Some(Visibility::Inherited) | None)
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Struct(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Const(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        _ => &[],
    }
}

fn has_doc(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("doc"))
}

fn is_doc_hidden(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("doc") && tidy(&a.meta).contains("hidden"))
}

fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && tidy(&a.meta) == "cfg(test)")
}

fn is_cfg_testing(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && tidy(&a.meta).contains("\"testing\""))
}

fn derives(attrs: &[Attribute]) -> String {
    let mut names = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = a.parse_nested_meta(|meta| {
            names.push(tidy(&meta.path));
            Ok(())
        });
    }
    if names.is_empty() {
        String::new()
    } else {
        format!(" derive({})", names.join(", "))
    }
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn strip_field_attrs(fields: &mut Fields) {
    for f in fields.iter_mut() {
        f.attrs.clear();
    }
}

/// A function's signature without its name: `async fn<T: Detail>(db: &Database) -> …`.
fn signature(sig: &syn::Signature) -> String {
    let mut sig = sig.clone();
    for input in sig.inputs.iter_mut() {
        match input {
            syn::FnArg::Receiver(r) => r.attrs.clear(),
            syn::FnArg::Typed(t) => t.attrs.clear(),
        }
    }
    let name = sig.ident.to_string();
    tidy(&sig).replacen(&format!("fn {name}"), "fn", 1)
}

/// Tokens as one line, spaced roughly as rustfmt would.
fn tidy(tokens: &impl ToTokens) -> String {
    let mut s = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" ::", "::"),
        (" ,", ","),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        ("& ", "&"),
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        (" ;", ";"),
        (" :", ":"),
        ("[ ", "["),
        (" ]", "]"),
        (" ?", "?"),
        ("! ", "!"),
        ("->(", "-> ("),
        ("dyn(", "dyn ("),
        ("impl(", "impl ("),
        ("mut(", "mut ("),
        (",(", ", ("),
        (":(", ": ("),
        ("=(", "= ("),
        (":<", ": <"),
        (",)", ")"),
        (", }", " }"),
        (",>", ">"),
    ] {
        while s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s
}

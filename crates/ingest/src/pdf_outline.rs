//! A PDF's outline (its bookmarks), read as headings: each entry's title, depth and the
//! page it points to, in document order. Walked by hand rather than with lopdf's
//! `get_toc`, which merges entries that share a title ("Introduction" in every
//! chapter) and follows `Next` links without end when a hostile file makes them a
//! cycle: here every outline item and name-tree node is visited once, and the walk
//! stops at a cap.

use std::collections::{HashMap, HashSet};

use lopdf::{Dictionary, Document as Pdf, Object, ObjectId};

/// Most outline entries read; a longer outline is cut there.
const MAX_ENTRIES: usize = 20_000;
/// Most named destinations read from the name tree.
const MAX_NAMES: usize = 200_000;

/// One bookmark: depth (1 = top), title, 1-based page number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) level: u8,
    pub(crate) title: String,
    pub(crate) page: u32,
}

/// The outline's entries in document order; empty when there is none or it cannot be
/// read. Entries whose destination is not a page of this document are left out.
pub(crate) fn entries(doc: &Pdf) -> Vec<Entry> {
    let pages: HashMap<ObjectId, u32> =
        doc.get_pages().into_iter().map(|(n, id)| (id, n)).collect();
    let Ok(catalog) = doc.catalog() else {
        return Vec::new();
    };
    let Some(first) = dict_at(doc, catalog, b"Outlines").and_then(|o| o.get(b"First").ok()) else {
        return Vec::new();
    };
    let names = named_destinations(doc, catalog);
    let mut out = Vec::new();
    let mut visited = HashSet::new();
    // (item, depth), depth-first: an item, then its children, then its next sibling.
    let mut stack: Vec<(Object, u8)> = vec![(first.clone(), 1)];
    while let Some((item, level)) = stack.pop() {
        if out.len() >= MAX_ENTRIES || visited.len() >= 4 * MAX_ENTRIES {
            break;
        }
        let Ok(id) = item.as_reference() else {
            continue;
        };
        if !visited.insert(id) {
            continue;
        }
        let Ok(node) = doc.get_dictionary(id) else {
            continue;
        };
        if let Ok(next) = node.get(b"Next") {
            stack.push((next.clone(), level));
        }
        if let Ok(child) = node.get(b"First") {
            stack.push((child.clone(), level.saturating_add(1)));
        }
        let title = node
            .get(b"Title")
            .ok()
            .and_then(|t| resolve(doc, t).as_str().ok())
            .map(|bytes| crate::builder::squash(&crate::pdf::text_string(bytes)))
            .unwrap_or_default();
        if title.is_empty() {
            continue;
        }
        let page = destination(doc, node, &names).and_then(|page| pages.get(&page).copied());
        if let Some(page) = page {
            out.push(Entry { level, title, page });
        }
    }
    out
}

/// Follows references (lopdf stops at its own limit).
pub(crate) fn resolve<'a>(doc: &'a Pdf, object: &'a Object) -> &'a Object {
    doc.dereference(object).map_or(object, |(_, o)| o)
}

fn dict_at<'a>(doc: &'a Pdf, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Dictionary> {
    resolve(doc, dict.get(key).ok()?).as_dict().ok()
}

/// The page an outline item points to: its `Dest`, or its action's `D` when the action
/// is a `GoTo`; either an explicit `[page ...]` array or a named destination.
fn destination(doc: &Pdf, item: &Dictionary, names: &HashMap<Vec<u8>, Object>) -> Option<ObjectId> {
    let dest = match item.get(b"Dest") {
        Ok(d) => resolve(doc, d),
        Err(_) => {
            let action = dict_at(doc, item, b"A")?;
            if action.get(b"S").ok()?.as_name().ok()? != b"GoTo" {
                return None;
            }
            resolve(doc, action.get(b"D").ok()?)
        }
    };
    let dest = match dest {
        Object::String(name, _) | Object::Name(name) => resolve(doc, names.get(name)?),
        other => other,
    };
    // A named destination is an array, or a dictionary holding it under `D`.
    let array = match dest {
        Object::Dictionary(d) => resolve(doc, d.get(b"D").ok()?).as_array().ok()?,
        other => other.as_array().ok()?,
    };
    array.first()?.as_reference().ok()
}

/// Named destinations: the catalog's `Dests` dictionary (PDF 1.1) and the `Dests`
/// name tree under `Names` (where pdfTeX's hyperref puts `section.1` and the like).
fn named_destinations(doc: &Pdf, catalog: &Dictionary) -> HashMap<Vec<u8>, Object> {
    let mut out = HashMap::new();
    if let Some(dests) = dict_at(doc, catalog, b"Dests") {
        for (name, dest) in dests {
            out.insert(name.clone(), dest.clone());
        }
    }
    let Some(tree) = dict_at(doc, catalog, b"Names").and_then(|n| n.get(b"Dests").ok()) else {
        return out;
    };
    let mut visited = HashSet::new();
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        if out.len() >= MAX_NAMES {
            break;
        }
        if let Ok(id) = node.as_reference() {
            if !visited.insert(id) {
                continue;
            }
        }
        let Ok(node) = resolve(doc, node).as_dict() else {
            continue;
        };
        if let Ok(kids) = node.get(b"Kids").map(|k| resolve(doc, k)) {
            stack.extend(kids.as_array().into_iter().flatten());
        }
        if let Ok(pairs) = node.get(b"Names").map(|n| resolve(doc, n)) {
            for pair in pairs
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .chunks_exact(2)
            {
                if let Ok(name) = resolve(doc, &pair[0]).as_str() {
                    out.insert(name.to_vec(), pair[1].clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    /// A one-page document whose outline items are `titles`, each pointing at the page,
    /// linked by `Next` in a ring: the last item's `Next` is the first again.
    fn ringed(titles: &[&str]) -> Pdf {
        let mut doc = Pdf::with_version("1.5");
        let pages_id = doc.new_object_id();
        let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            }),
        );
        let ids: Vec<ObjectId> = titles.iter().map(|_| doc.new_object_id()).collect();
        for (i, title) in titles.iter().enumerate() {
            let dest: Vec<Object> = vec![page_id.into(), "Fit".into()];
            let item = dictionary! {
                "Title" => Object::string_literal(*title),
                "Dest" => dest,
                "Next" => ids[(i + 1) % ids.len()],
            };
            doc.objects.insert(ids[i], Object::Dictionary(item));
        }
        let outlines = doc.add_object(dictionary! { "Type" => "Outlines", "First" => ids[0] });
        let catalog = doc.add_object(dictionary! {
            "Type" => "Catalog", "Pages" => pages_id, "Outlines" => outlines,
        });
        doc.trailer.set("Root", catalog);
        doc
    }

    #[test]
    fn a_ring_of_outline_items_is_read_once_and_ends() {
        let got = entries(&ringed(&["Intro", "Intro", "Usage"]));
        let titles: Vec<_> = got
            .iter()
            .map(|e| (e.level, e.title.as_str(), e.page))
            .collect();
        // Two items named "Intro" stay two entries.
        assert_eq!(titles, [(1, "Intro", 1), (1, "Intro", 1), (1, "Usage", 1)]);
    }
}

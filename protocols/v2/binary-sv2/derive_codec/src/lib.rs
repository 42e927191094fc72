//! Derive macros for `binary_sv2`: `Encodable`, `Decodable`, `IntoStatic` and (for tests)
//! `Arbitrary`.
//!
//! They work on any struct (named, tuple or unit) whose fields implement the binary_sv2 traits,
//! with zero or one lifetime parameter and any type parameters. Fields are encoded in
//! declaration order, which is the spec's wire order. Decoding errors are tagged with the
//! struct's and the field's name.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::{
    parse_macro_input, parse_quote, Data, DeriveInput, Fields, GenericParam, Generics, Index,
    Lifetime, LifetimeParam, Member, Type,
};

struct Field {
    member: Member,
    name: String,
    ty: Type,
}

enum Shape {
    Named,
    Tuple,
    Unit,
}

fn fields(input: &DeriveInput) -> syn::Result<(Shape, Vec<Field>)> {
    let data = match &input.data {
        Data::Struct(s) => s,
        _ => {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "binary_sv2 derives only support structs: Sv2 messages are structs",
            ))
        }
    };
    let shape = match &data.fields {
        Fields::Named(_) => Shape::Named,
        Fields::Unnamed(_) => Shape::Tuple,
        Fields::Unit => Shape::Unit,
    };
    let out = data
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| match &f.ident {
            Some(id) => Field {
                member: Member::Named(id.clone()),
                name: id.to_string(),
                ty: f.ty.clone(),
            },
            None => Field {
                member: Member::Unnamed(Index::from(i)),
                name: i.to_string(),
                ty: f.ty.clone(),
            },
        })
        .collect();
    Ok((shape, out))
}

fn construct(shape: &Shape, fields: &[Field], values: &[TokenStream2]) -> TokenStream2 {
    match shape {
        Shape::Named => {
            let members = fields.iter().map(|f| &f.member);
            quote!(Self { #(#members: #values),* })
        }
        Shape::Tuple => quote!(Self( #(#values),* )),
        Shape::Unit => quote!(Self),
    }
}

fn lifetime_of(generics: &Generics) -> syn::Result<Option<Lifetime>> {
    let lts: Vec<_> = generics.lifetimes().map(|l| l.lifetime.clone()).collect();
    match lts.len() {
        0 => Ok(None),
        1 => Ok(Some(lts[0].clone())),
        _ => Err(syn::Error::new_spanned(
            generics,
            "binary_sv2 derives support at most one lifetime parameter",
        )),
    }
}

fn add_bounds(generics: &mut Generics, bound: TokenStream2) {
    let params: Vec<_> = generics.type_params().map(|t| t.ident.clone()).collect();
    let wc = generics.make_where_clause();
    for p in params {
        wc.predicates.push(parse_quote!(#p: #bound));
    }
}

#[proc_macro_derive(Encodable)]
pub fn derive_encodable(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_encodable(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand_encodable(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let (_, fields) = fields(input)?;
    let name = &input.ident;
    let sname = name.to_string();
    let mut generics = input.generics.clone();
    add_bounds(&mut generics, quote!(::binary_sv2::Encodable));
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    let members: Vec<_> = fields.iter().map(|f| &f.member).collect();
    let fnames: Vec<_> = fields.iter().map(|f| &f.name).collect();
    Ok(quote! {
        impl #impl_g ::binary_sv2::Encodable for #name #ty_g #where_c {
            #[inline]
            fn encoded_len(&self) -> usize {
                0 #( + ::binary_sv2::Encodable::encoded_len(&self.#members) )*
            }
            #[inline]
            fn write_to(
                &self,
                w: &mut ::binary_sv2::Writer<'_>,
            ) -> ::core::result::Result<(), ::binary_sv2::EncodeError> {
                #(
                    ::binary_sv2::Encodable::write_to(&self.#members, w)
                        .map_err(|e| e.at(#sname, #fnames))?;
                )*
                Ok(())
            }
        }
    })
}

#[proc_macro_derive(Decodable)]
pub fn derive_decodable(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_decodable(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand_decodable(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let (shape, fields) = fields(input)?;
    let name = &input.ident;
    let sname = name.to_string();
    let (_, ty_g, _) = input.generics.split_for_impl();
    let mut generics = input.generics.clone();
    let lt = match lifetime_of(&input.generics)? {
        Some(lt) => lt,
        None => {
            let lt = Lifetime::new("'__sv2_de", Span::call_site());
            generics
                .params
                .insert(0, GenericParam::Lifetime(LifetimeParam::new(lt.clone())));
            lt
        }
    };
    add_bounds(&mut generics, quote!(::binary_sv2::Decodable<#lt>));
    let (impl_g, _, where_c) = generics.split_for_impl();
    let tys: Vec<_> = fields.iter().map(|f| &f.ty).collect();
    let values: Vec<TokenStream2> = fields
        .iter()
        .map(|f| {
            let ty = &f.ty;
            let fname = &f.name;
            quote! {
                <#ty as ::binary_sv2::Decodable<#lt>>::read_from(r)
                    .map_err(|e| e.at(#sname, #fname))?
            }
        })
        .collect();
    let body = construct(&shape, &fields, &values);
    Ok(quote! {
        impl #impl_g ::binary_sv2::Decodable<#lt> for #name #ty_g #where_c {
            const FIXED_SIZE: ::core::option::Option<usize> = ::binary_sv2::sum_fixed_sizes(&[
                #( <#tys as ::binary_sv2::Decodable<#lt>>::FIXED_SIZE ),*
            ]);

            #[inline]
            fn read_from(
                r: &mut ::binary_sv2::Reader<#lt>,
            ) -> ::core::result::Result<Self, ::binary_sv2::DecodeError> {
                ::core::result::Result::Ok(#body)
            }

            #[inline]
            fn decode(
                bytes: &#lt [u8],
            ) -> ::core::result::Result<Self, ::binary_sv2::DecodeError> {
                let mut r = ::binary_sv2::Reader::new(bytes);
                let v = <Self as ::binary_sv2::Decodable<#lt>>::read_from(&mut r)?;
                r.finish().map_err(|e| e.in_message(#sname))?;
                ::core::result::Result::Ok(v)
            }
        }
    })
}

#[proc_macro_derive(IntoStatic)]
pub fn derive_into_static(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_into_static(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn static_type(input: &DeriveInput) -> syn::Result<TokenStream2> {
    if input.generics.type_params().next().is_some() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "IntoStatic/Arbitrary derives do not support type parameters",
        ));
    }
    let name = &input.ident;
    Ok(match lifetime_of(&input.generics)? {
        Some(_) => quote!(#name<'static>),
        None => quote!(#name),
    })
}

fn expand_into_static(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let (shape, fields) = fields(input)?;
    let name = &input.ident;
    let stat = static_type(input)?;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let values: Vec<TokenStream2> = fields
        .iter()
        .map(|f| {
            let m = &f.member;
            quote!(::binary_sv2::IntoStatic::into_static(self.#m))
        })
        .collect();
    let body = match shape {
        Shape::Named => {
            let members = fields.iter().map(|f| &f.member);
            quote!(#name { #(#members: #values),* })
        }
        Shape::Tuple => quote!(#name( #(#values),* )),
        Shape::Unit => quote!(#name),
    };
    Ok(quote! {
        impl #impl_g ::binary_sv2::IntoStatic for #name #ty_g #where_c {
            type Static = #stat;
            fn into_static(self) -> #stat {
                #body
            }
        }
    })
}

/// `quickcheck::Arbitrary` for the struct's `'static` form, each field drawn by its own
/// generator (which respects the Sv2 limits). Needs binary_sv2's `quickcheck` feature.
#[proc_macro_derive(Arbitrary)]
pub fn derive_arbitrary(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_arbitrary(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand_arbitrary(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let (shape, fields) = fields(input)?;
    let stat = static_type(input)?;
    let values: Vec<TokenStream2> = fields
        .iter()
        .map(|_| quote!(::binary_sv2::__quickcheck::Arbitrary::arbitrary(g)))
        .collect();
    let body = construct(&shape, &fields, &values);
    Ok(quote! {
        impl ::binary_sv2::__quickcheck::Arbitrary for #stat {
            fn arbitrary(g: &mut ::binary_sv2::__quickcheck::Gen) -> Self {
                #body
            }
        }
    })
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

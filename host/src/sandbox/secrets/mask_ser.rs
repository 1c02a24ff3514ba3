//! A `serde::Serializer` that masks what it forwards: every string, character, map key and
//! number holding a secret. Compound values wrap each element again, so nothing nested
//! escapes it.

use serde::ser::{
    Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

use super::{MASK, Masked, Masker};

pub(super) struct MaskSer<'m, S> {
    pub(super) inner: S,
    pub(super) masker: &'m Masker,
}

/// Whether the decimal form of a number holds a secret.
fn number_holds_secret(masker: &Masker, n: impl std::fmt::Display) -> bool {
    use std::fmt::Write as _;
    let mut buf = String::with_capacity(24);
    let _ = write!(buf, "{n}");
    masker.matches(&buf)
}

macro_rules! numbers {
    ($($method:ident: $t:ty),* $(,)?) => {
        $(
            fn $method(self, v: $t) -> Result<S::Ok, S::Error> {
                if number_holds_secret(self.masker, v) {
                    self.inner.serialize_str(MASK)
                } else {
                    self.inner.$method(v)
                }
            }
        )*
    };
}

/// A compound serializer whose elements are masked too.
pub(super) struct Compound<'m, C> {
    inner: C,
    masker: &'m Masker,
}

impl<'m, S: Serializer> Serializer for MaskSer<'m, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<'m, S::SerializeSeq>;
    type SerializeTuple = Compound<'m, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'m, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'m, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'m, S::SerializeMap>;
    type SerializeStruct = Compound<'m, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'m, S::SerializeStructVariant>;

    numbers!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128, serialize_f32: f32, serialize_f64: f64,
    );

    fn serialize_bool(self, v: bool) -> Result<S::Ok, S::Error> {
        self.inner.serialize_bool(v)
    }
    fn serialize_char(self, v: char) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 4];
        let s = v.encode_utf8(&mut buf);
        if self.masker.matches(s) {
            self.inner.serialize_str(MASK)
        } else {
            self.inner.serialize_char(v)
        }
    }
    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        self.inner.serialize_str(&self.masker.mask(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(v) {
            Ok(s) if self.masker.matches(s) => {
                self.inner.serialize_bytes(self.masker.mask(s).as_bytes())
            }
            _ => self.inner.serialize_bytes(v),
        }
    }
    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(&Masked(v, self.masker))
    }
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_struct(name)
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_variant(name, index, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_newtype_struct(name, &Masked(v, self.masker))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_newtype_variant(name, index, variant, &Masked(v, self.masker))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Ok(Compound {
            inner: self.inner.serialize_seq(len)?,
            masker: self.masker,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        Ok(Compound {
            inner: self.inner.serialize_tuple(len)?,
            masker: self.masker,
        })
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Ok(Compound {
            inner: self.inner.serialize_tuple_struct(name, len)?,
            masker: self.masker,
        })
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Ok(Compound {
            inner: self
                .inner
                .serialize_tuple_variant(name, index, variant, len)?,
            masker: self.masker,
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Ok(Compound {
            inner: self.inner.serialize_map(len)?,
            masker: self.masker,
        })
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Ok(Compound {
            inner: self.inner.serialize_struct(name, len)?,
            masker: self.masker,
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Ok(Compound {
            inner: self
                .inner
                .serialize_struct_variant(name, index, variant, len)?,
            masker: self.masker,
        })
    }
    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! elements {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(
            impl<C: $trait> $trait for Compound<'_, C> {
                type Ok = C::Ok;
                type Error = C::Error;
                fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), C::Error> {
                    self.inner.$method(&Masked(v, self.masker))
                }
                fn end(self) -> Result<C::Ok, C::Error> {
                    self.inner.end()
                }
            }
        )*
    };
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl<C: SerializeMap> SerializeMap for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), C::Error> {
        self.inner.serialize_key(&Masked(k, self.masker))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), C::Error> {
        self.inner.serialize_value(&Masked(v, self.masker))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

macro_rules! fields {
    ($($trait:ident),*) => {
        $(
            impl<C: $trait> $trait for Compound<'_, C> {
                type Ok = C::Ok;
                type Error = C::Error;
                fn serialize_field<T: Serialize + ?Sized>(
                    &mut self,
                    key: &'static str,
                    v: &T,
                ) -> Result<(), C::Error> {
                    self.inner.serialize_field(key, &Masked(v, self.masker))
                }
                fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
                    self.inner.skip_field(key)
                }
                fn end(self) -> Result<C::Ok, C::Error> {
                    self.inner.end()
                }
            }
        )*
    };
}

fields!(SerializeStruct, SerializeStructVariant);

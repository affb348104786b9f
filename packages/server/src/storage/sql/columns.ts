/**
 * How a model's fields are stored in a table's columns, declared once for both directions: each field names
 * its column and how its value is kept there, and `fromRow` and `toRow` follow the declaration. The same on
 * SQLite and PostgreSQL: integers are read back through Number (PostgreSQL returns a bigint as a string),
 * lists and objects are JSON text, booleans 0/1 integers.
 */
import { json, jsonOrNull, listOrNull, numberOrNull, parseList } from './db.ts';

/** One field's column: its name, how a stored value is read into the model and how a model value is written. */
export interface Column<Name extends string, Value, Stored> {
  readonly name: Name;
  readonly read: (stored: Stored) => Value;
  readonly write: (value: Value) => Stored;
}

const same = <T>(value: T): T => value;

const sameText = <T extends string | null>(value: T): T => value;

/** A column holding the value as it is (text, or nullable text). */
export const text = <Name extends string>(name: Name) => ({ name, read: sameText, write: sameText });

/** A text column only the server writes, read back as the string union it was written from. */
export const textOf = <Name extends string>(name: Name) => ({
  name,
  read: <T extends string>(stored: string) => stored as T,
  write: same,
});

/** A text column read as `special` when it holds that, else as `otherwise`. */
export const either = <Name extends string, Special extends string, Otherwise extends string>(
  name: Name,
  special: Special,
  otherwise: Otherwise,
): Column<Name, Special | Otherwise, string> => ({
  name,
  read: (stored) => (stored === special ? special : otherwise),
  write: same,
});

export const integer = <Name extends string>(name: Name): Column<Name, number, number> => ({
  name,
  read: Number,
  write: same,
});

export const integerOrNull = <Name extends string>(
  name: Name,
): Column<Name, number | null, number | null> => ({
  name,
  read: numberOrNull,
  write: same,
});

/** A boolean as a 0/1 integer. */
export const flag = <Name extends string>(name: Name): Column<Name, boolean, number> => ({
  name,
  read: (stored) => Number(stored) === 1,
  write: (value) => (value ? 1 : 0),
});

/** A list of strings as JSON text. */
export const list = <Name extends string>(name: Name): Column<Name, string[], string> => ({
  name,
  read: parseList,
  write: json,
});

export const nullableList = <Name extends string>(
  name: Name,
): Column<Name, string[] | null, string | null> => ({
  name,
  read: listOrNull,
  write: jsonOrNull,
});

/** A list of strings separated by single spaces. */
export const words = <Name extends string>(name: Name): Column<Name, string[], string> => ({
  name,
  read: (stored) => (stored === '' ? [] : stored.split(' ')),
  write: (value) => value.join(' '),
});

/** A value as JSON text. */
export const jsonText = <Name extends string>(name: Name) => ({
  name,
  read: <T>(stored: string) => JSON.parse(stored) as T,
  write: json,
});

/** A nullable value as JSON text; null stays null. */
export const nullableJson = <Name extends string>(name: Name) => ({
  name,
  read: <T>(stored: string | null) => (stored === null ? null : (JSON.parse(stored) as T)),
  write: jsonOrNull,
});

/** An optional field as JSON text: absent from the model when the column is null, null when absent. */
export const optionalJson = <Name extends string>(name: Name) => ({
  name,
  read: <T>(stored: string | null | undefined) =>
    stored === null || stored === undefined ? undefined : (JSON.parse(stored) as T),
  write: (value: unknown) => (value === null || value === undefined ? null : json(value)),
});

/** The column of `Row` that can hold a field of type `Value`. */
type ColumnFor<Row, Value> = {
  [Name in keyof Row & string]: Column<Name, Value, Row[Name]>;
}[keyof Row & string];

/** Every field of `Model`, each with a column of `Row` (an optional field's value may be undefined). */
export type Columns<Model, Row> = {
  [Field in keyof Model]-?: ColumnFor<Row, Pick<Model, Field>[Field]>;
};

/** Reads rows into models and writes models as the columns they are declared in. */
export interface RowMapping<Model, Written> {
  fromRow(row: Written): Model;
  toRow(model: Model): Written;
}

/**
 * The mapping of `Model` to the table with rows `Row`, from the column of each field; `toRow` writes those
 * columns only (the caller adds the others). Curried so that the declaration's column names are kept.
 */
export function rowMapping<Model, Row>() {
  return <Declared extends Columns<Model, Row>>(
    declared: Declared,
  ): RowMapping<Model, Pick<Row, Declared[keyof Declared]['name'] & keyof Row>> => {
    const fields = Object.keys(declared);
    const columns = Object.values(declared) as Column<string, unknown, unknown>[];
    return {
      fromRow(row) {
        const stored = row as Record<string, unknown>;
        const model: Record<string, unknown> = {};
        for (let i = 0; i < columns.length; i++) {
          const column = columns[i]!;
          const value = column.read(stored[column.name]);
          // Optional fields read as undefined are left out, so a model read back equals the one saved.
          if (value !== undefined) model[fields[i]!] = value;
        }
        return model as Model;
      },
      toRow(model) {
        const values = model as Record<string, unknown>;
        const row: Record<string, unknown> = {};
        for (let i = 0; i < columns.length; i++) {
          const column = columns[i]!;
          row[column.name] = column.write(values[fields[i]!]);
        }
        return row as Pick<Row, Declared[keyof Declared]['name'] & keyof Row>;
      },
    };
  };
}

package io.sensorlake.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code TABLE_LOOKUP_STRING(table, key)}: the text value of {@code key} in a constant look-up
 * table ({@link LookupTables}), or NULL. A hash look-up: its cost does not grow with the table.
 *
 * <pre>{@code
 * CREATE TEMPORARY SYSTEM FUNCTION TABLE_LOOKUP_STRING AS 'io.sensorlake.flink.TableLookupString' LANGUAGE JAVA;
 * SELECT TABLE_LOOKUP_STRING(U&'pump-1\001Fpump\001Efan-7\001Ffan', equipment_id) AS equipment_type FROM readings;
 * }</pre>
 */
public class TableLookupString extends ScalarFunction {
    private transient LookupTables<StringData> tables;

    public @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData eval(
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData table,
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData key) {
        if (tables == null) {
            tables = new LookupTables<>(StringData::fromString);
        }
        return tables.get(table, key);
    }
}

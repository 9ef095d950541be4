package io.sensorlake.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code TABLE_LOOKUP_DOUBLE(table, key)}: the number {@code key} maps to in a constant look-up
 * table ({@link LookupTables}; values as Java's {@code Double.valueOf} reads them), or NULL.
 *
 * <pre>{@code
 * SELECT TABLE_LOOKUP_DOUBLE(U&'pump/temperature\001F120.0', CONCAT(equipment_type, '/', sensor)) FROM readings;
 * }</pre>
 */
public class TableLookupDouble extends ScalarFunction {
    private transient LookupTables<Double> tables;

    public @DataTypeHint("DOUBLE") Double eval(
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData table,
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData key) {
        if (tables == null) {
            tables = new LookupTables<>(Double::valueOf);
        }
        return tables.get(table, key);
    }
}

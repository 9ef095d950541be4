package io.sensorlake.flink;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Flink's own {@code JSON_VALUE} in two steps: parse a text once, then read paths from the parse.
 *
 * <p>{@code JSON_VALUE(text, path)} calls {@code SqlJsonUtils.jsonValue(text, path, ...)}, which
 * parses the whole text for every call. The same class holds the two steps as private methods
 * ({@code jsonValueExpression}, then {@code jsonApiCommonSyntax} and {@code jsonValue}); calling
 * them is what keeps every answer, NULLs and errors included, the built-in's. They are internal to
 * Flink, so the class is checked when it loads: another Flink version fails the job at its start
 * with this class's name, not with different answers.
 */
final class FlinkJson {
    private static final String UTILS = "org.apache.flink.table.runtime.functions.SqlJsonUtils";
    private static final MethodHandle PARSE;
    private static final MethodHandle PATH;
    private static final MethodHandle VALUE;
    private static final Object NULL_BEHAVIOUR;

    static {
        try {
            Class<?> utils = Class.forName(UTILS);
            Class<?> document = Class.forName(UTILS + "$JsonValueContext");
            Class<?> pathContext = Class.forName(UTILS + "$JsonPathContext");
            Class<?> behaviour = Class.forName("org.apache.flink.table.api.JsonValueOnEmptyOrError");
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(utils, MethodHandles.lookup());
            PARSE = lookup.findStatic(utils, "jsonValueExpression", MethodType.methodType(document, String.class))
                    .asType(MethodType.methodType(Object.class, String.class));
            PATH = lookup.findStatic(utils, "jsonApiCommonSyntax", MethodType.methodType(pathContext, document, String.class))
                    .asType(MethodType.methodType(Object.class, Object.class, String.class));
            VALUE = lookup.findStatic(utils, "jsonValue",
                            MethodType.methodType(Object.class, pathContext, behaviour, Object.class, behaviour, Object.class))
                    .asType(MethodType.methodType(Object.class, Object.class, Object.class, Object.class, Object.class, Object.class));
            NULL_BEHAVIOUR = behaviour.getField("NULL").get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(UTILS + " is not the Flink 2.2 class FlinkJson was written for", e);
        }
    }

    private FlinkJson() {}

    /** The parse of {@code text} (or the error parsing it), as {@code JSON_VALUE} would make it. */
    static Object parse(String text) {
        try {
            return (Object) PARSE.invokeExact(text);
        } catch (Throwable t) {
            throw rethrown(t);
        }
    }

    /** {@code JSON_VALUE(text, path)} (NULL ON EMPTY, NULL ON ERROR, RETURNING STRING) of a parse. */
    static String value(Object parsed, String path) {
        try {
            Object found = (Object) VALUE.invokeExact((Object) PATH.invokeExact(parsed, path),
                                                      NULL_BEHAVIOUR, (Object) null, NULL_BEHAVIOUR, (Object) null);
            return found == null ? null : String.valueOf(found);   // as the code Flink generates for JSON_VALUE
        } catch (Throwable t) {
            throw rethrown(t);
        }
    }

    private static RuntimeException rethrown(Throwable t) {
        if (t instanceof RuntimeException) {
            return (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
        return new IllegalStateException(t);
    }
}
